/*
 * verify_events.c — each event on its own (decode, inclusion proof, body,
 * signature or seal) (`ledger verify-bundle`; the flow is in verify.c, the
 * shared context in verify_int.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export/verify_int.h"
#include "query/query.h"
#include "ledger/module.h"
#include "util/util.h"

/* ---------------------------------------------------------- seals -- */

static int
cmp_vseal(const void *a, const void *b)
{
    uint64_t x = ((const struct vseal *)a)->seq;
    uint64_t y = ((const struct vseal *)b)->seq;
    return x < y ? -1 : x > y;
}

/* One slot per seals/<seq>.seal member, sorted by seq. */
static int
collect_seals(struct vctx *v)
{
    size_t n = 0;

    for (size_t i = 0; i < v->b.n; i++) {
        uint64_t seq;
        if (bundle_name_kind(v->b.m[i].name, &seq) == BN_SEAL)
            n++;
    }
    if (n == 0)
        return 0;
    v->seals = calloc(n, sizeof *v->seals);
    if (v->seals == NULL)
        return LDG_ENOMEM;
    for (size_t i = 0; i < v->b.n; i++) {
        uint64_t seq;
        struct vseal *s;
        if (bundle_name_kind(v->b.m[i].name, &seq) != BN_SEAL)
            continue;
        s = &v->seals[v->nseals];
        if (pthread_mutex_init(&s->mu, NULL) != 0)
            return LDG_ENOMEM;
        s->seq = seq;
        v->nseals++;
    }
    qsort(v->seals, v->nseals, sizeof *v->seals, cmp_vseal);
    return 0;
}

void
bv_release_seals(struct vctx *v)
{
    for (size_t i = 0; i < v->nseals; i++)
        pthread_mutex_destroy(&v->seals[i].mu);
    free(v->seals);
    v->seals = NULL;
    v->nseals = 0;
}

static struct vseal *
find_seal(struct vctx *v, uint64_t seq)
{
    struct vseal key;
    key.seq = seq;
    return v->nseals
               ? bsearch(&key, v->seals, v->nseals, sizeof *v->seals, cmp_vseal)
               : NULL;
}

/* The result of a check is a function of the record's bytes (the seal
 * map and signature: the strict decoder admits one encoding of each) and
 * the public key alone, so a slot's result stands for another event of
 * that seal exactly when both are byte for byte the ones checked; any
 * other record or key is checked afresh (and becomes the slot's). */
static int
seal_check(struct vctx *v, const uint8_t *rec, size_t len,
           const uint8_t pub[32])
{
    struct ldg_seal seal;
    if (ldg_seal_record_decode(rec, len, &seal) < 0)
        return -1;
    if (seal.ext != NULL) { /* by its epoch key alone: bv_check_epochs */
        __atomic_store_n(&v->epoch_seals, 1, __ATOMIC_RELAXED);
        return 0;
    }
    __atomic_fetch_add(&v->seal_sigs, 1, __ATOMIC_RELAXED);
    return ldg_seal_verify(&seal, pub) == 0 ? 0 : -1;
}

int
bv_seal_sig(struct vctx *v, uint64_t seq, const uint8_t *rec, size_t len,
            const uint8_t pub[32])
{
    struct vseal *s = find_seal(v, seq);
    int rc;

    if (s == NULL) /* not a member of the bundle: nothing to remember */
        return seal_check(v, rec, len, pub);
    pthread_mutex_lock(&s->mu);
    if (s->rec == NULL || s->rec_len != len || memcmp(s->rec, rec, len) != 0 ||
        memcmp(s->pub, pub, 32) != 0) {
        s->result = seal_check(v, rec, len, pub);
        s->rec = rec;
        s->rec_len = len;
        memcpy(s->pub, pub, 32);
    }
    rc = s->result;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ------------------------------------------------------- per-event work -- */

struct entpos {
    uint64_t seq;
    size_t m; /* index of its entries/<seq>.entry member */
};

static int
cmp_entpos(const void *a, const void *b)
{
    const struct entpos *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int
bv_collect_events(struct vctx *v)
{
    struct entpos *pos;
    size_t n = 0;
    int rc;

    if ((rc = collect_seals(v)) < 0)
        return rc;
    for (size_t i = 0; i < v->b.n; i++) {
        uint64_t seq;
        if (bundle_name_kind(v->b.m[i].name, &seq) == BN_ENTRY)
            n++;
    }
    v->ev = calloc(n ? n : 1, sizeof *v->ev);
    pos = malloc((n ? n : 1) * sizeof *pos);
    if (v->ev == NULL || pos == NULL) {
        free(pos);
        return LDG_ENOMEM;
    }
    n = 0;
    for (size_t i = 0; i < v->b.n; i++) {
        uint64_t seq;
        if (bundle_name_kind(v->b.m[i].name, &seq) == BN_ENTRY)
            pos[n++] = (struct entpos){seq, i};
    }
    /* member names sort as strings ("10" before "9"), events by number:
     * the small records are sorted, the events filled in that order (an
     * insertion sort of the events themselves, 2 KiB each, took 40 s for
     * 20,000 of them) */
    qsort(pos, n, sizeof *pos, cmp_entpos);
    for (size_t k = 0; k < n; k++) {
        char name[48];
        struct vev *e = &v->ev[v->nev++];
        uint64_t seq = pos[k].seq;
        LDG_ASSERT(pos[k].m < v->b.n && (k == 0 || pos[k - 1].seq <= seq));
        e->seq = seq;
        e->entry = &v->b.m[pos[k].m];
        snprintf(name, sizeof name, "proofs/%llu.proof",
                 (unsigned long long)seq);
        e->proof = bundle_get(&v->b, name);
        snprintf(name, sizeof name, "bodies/%llu.json",
                 (unsigned long long)seq);
        e->body = bundle_get(&v->b, name);
        snprintf(name, sizeof name, "sealproofs/%llu.proof",
                 (unsigned long long)seq);
        e->seal_proof = bundle_get(&v->b, name);
    }
    free(pos);
    return 0;
}

static void
check_proof(struct vctx *v, struct vev *e, struct wctx *w)
{
    struct {
        uint64_t index;
        uint8_t hashes[LDG_PROOF_MAX][32];
        size_t n;
        const char *checkpoint;
        size_t checkpoint_len;
    } p;

    if (e->proof == NULL) {
        snprintf(e->why_proof, WHY_MAX, "event %llu: no proof",
                 (unsigned long long)e->seq);
        return;
    }
    if (ldg_tlog_proof_parse_cached((const char *)e->proof->data, e->proof->len,
                                    &p.index, p.hashes, &p.n, &p.checkpoint,
                                    &p.checkpoint_len, w ? &w->pc : NULL) < 0) {
        snprintf(e->why_proof, WHY_MAX,
                 "event %llu: proof is not a tlog-proof@v1",
                 (unsigned long long)e->seq);
        return;
    }
    if (!v->ck_ok || p.checkpoint_len != v->ck->len ||
        memcmp(p.checkpoint, v->ck->data, v->ck->len) != 0) {
        snprintf(e->why_proof, WHY_MAX,
                 "event %llu: the proof is for another checkpoint than the "
                 "bundle's",
                 (unsigned long long)e->seq);
        return;
    }
    if (p.index != e->seq) {
        snprintf(e->why_proof, WHY_MAX,
                 "event %llu: the proof is for index %llu",
                 (unsigned long long)e->seq, (unsigned long long)p.index);
        return;
    }
    if (ldg_tlog_verify_inclusion_memo(
            w ? &w->mm : NULL, e->ev.leaf, p.index, v->cksize,
            (const uint8_t(*)[32])p.hashes, p.n, v->root) < 0) {
        snprintf(e->why_proof, WHY_MAX,
                 "event %llu: not included in the tree of size %llu (the "
                 "inclusion proof does not verify)",
                 (unsigned long long)e->seq, (unsigned long long)v->cksize);
        return;
    }
    e->proof_ok = 1;
}

/* Parses bodies/<seq>.json and checks it against the commitment. */
static void
check_body(struct vev *e)
{
    json_t *doc, *fields, *withheld, *val;
    uint8_t(*d)[32] = NULL, root[32];
    const char *name;
    size_t nf, nw, k = 0;
    json_error_t je;
    char *why = e->why_body;
    unsigned long long seq = (unsigned long long)e->seq;

    if (e->body == NULL) {
        snprintf(why, WHY_MAX, "event %llu: no body member", seq);
        return;
    }
    doc = json_loadb((const char *)e->body->data, e->body->len,
                     JSON_REJECT_DUPLICATES, &je);
    if (doc == NULL || !json_is_object(doc)) {
        snprintf(why, WHY_MAX,
                 "event %llu: body member is not a JSON "
                 "object",
                 seq);
        goto out;
    }
    if (json_object_size(doc) == 1 &&
        json_is_true(json_object_get(doc, "erased"))) {
        e->bstate = BS_ERASED;
        e->body_ok = 1; /* provided a body.erased backs it: see erasures */
        goto out;
    }
    fields = json_object_get(doc, "fields");
    withheld = json_object_get(doc, "withheld");
    if (json_object_size(doc) != 2 || !json_is_object(fields) ||
        !json_is_array(withheld)) {
        snprintf(why, WHY_MAX,
                 "event %llu: body member lacks fields and "
                 "withheld",
                 seq);
        goto out;
    }
    nf = json_object_size(fields);
    nw = json_array_size(withheld);
    if (nf + nw > LDG_FIELDS_MAX) {
        snprintf(why, WHY_MAX, "event %llu: more than %d fields", seq,
                 LDG_FIELDS_MAX);
        goto out;
    }
    d = malloc((nf + nw ? nf + nw : 1) * 32);
    e->shown = json_object();
    if (d == NULL || e->shown == NULL) {
        snprintf(why, WHY_MAX, "event %llu: %s", seq, bv_nomem());
        goto out;
    }
    json_object_foreach(fields, name, val)
    {
        const char *salt = bv_jstr(val, "salt");
        json_t *value = json_object_get(val, "value");
        uint8_t s[16];
        int frc = LDG_EBADINPUT;
        if (!json_is_object(val) || json_object_size(val) != 2 ||
            salt == NULL || value == NULL ||
            ldg_unbase64(s, 16, salt, strlen(salt)) < 0 ||
            (frc = ldg_field_digest(d[k], s, name, value)) < 0) {
            snprintf(why, WHY_MAX, "event %llu: field '%.64s' %s", seq, name,
                     frc == LDG_ENOMEM ? bv_strerror(frc) : "is malformed");
            goto out;
        }
        json_object_set(e->shown, name, value);
        k++;
    }
    for (size_t i = 0; i < nw; i++) {
        const char *h = json_string_value(json_array_get(withheld, i));
        if (h == NULL || strlen(h) != 64 ||
            strspn(h, "0123456789abcdef") != 64 || ldg_unhex(d[k], 32, h) < 0) {
            snprintf(why, WHY_MAX,
                     "event %llu: withheld digest %zu is not "
                     "64 lowercase hex digits",
                     seq, i);
            goto out;
        }
        if (i > 0 && memcmp(d[k - 1], d[k], 32) >= 0) {
            snprintf(why, WHY_MAX,
                     "event %llu: withheld digests are not in increasing "
                     "order (digest %zu)",
                     seq, i);
            goto out;
        }
        k++;
    }
    ldg_body_root(root, (const uint8_t(*)[32])d, k);
    if (!e->decoded) {
        snprintf(why, WHY_MAX,
                 "event %llu: no entry to check the body "
                 "against",
                 seq);
        goto out;
    }
    if (memcmp(root, e->ev.body_root, 32) != 0) {
        snprintf(why, WHY_MAX,
                 "event %llu: the body does not match the "
                 "entry's commitment",
                 seq);
        goto out;
    }
    e->nwithheld = nw;
    e->bstate = nw == 0 ? BS_FULL : nf == 0 ? BS_WITHHELD : BS_REDACTED;
    e->body_ok = 1;
out:
    free(d);
    json_decref(doc);
}

/* A sealed entry (format 2) is vouched for by its seal, not by a
 * signature of its own (docs/format-bundle.md section 12): its claim's
 * digest is the one its stamp binds, the path in sealproofs/<seq>.proof
 * leads from that digest, as leaf `leaf` of `count`, to the root of
 * seals/<seal>.seal, whose key is the claim's actor, whose origin is the
 * bundle's, and whose signature verifies with pub (checked once per seal
 * and key: bv_seal_sig). 0, or -1 with why. */
static int
seal_attest(struct vctx *v, const struct vev *e, const uint8_t pub[32],
            const char *keyname, char *why, size_t cap)
{
    unsigned long long seq = (unsigned long long)e->seq;
    unsigned long long sseq = (unsigned long long)e->ev.seal_seq;
    uint8_t d[32], path[LDG_PROOF_MAX][32];
    const struct bmember *sm;
    struct ldg_seal seal;
    char name[48];
    size_t np = 0;

    ldg_claim_digest(d, e->ev.signed_part, e->ev.signed_len);
    if (memcmp(d, e->ev.digest, 32) != 0) {
        snprintf(why, cap, "event %llu: claim digest does not match its stamp",
                 seq);
        return -1;
    }
    snprintf(name, sizeof name, "seals/%llu.seal", sseq);
    sm = bundle_get(&v->b, name);
    if (sm == NULL) {
        snprintf(why, cap, "event %llu: its seal (%s) is not in the bundle",
                 seq, name);
        return -1;
    }
    if (ldg_seal_record_decode(sm->data, sm->len, &seal) < 0) {
        snprintf(why, cap, "event %llu: %s does not decode as a seal", seq,
                 name);
        return -1;
    }
    if (strcmp(seal.key_id, e->ev.actor) != 0) {
        snprintf(why, cap, "event %llu: actor %s but its seal %llu is by %s",
                 seq, e->ev.actor, sseq, seal.key_id);
        return -1;
    }
    if (strcmp(seal.origin, v->ck_origin) != 0) {
        snprintf(why, cap,
                 "event %llu: seal %llu is for origin %s, not the bundle's "
                 "%s",
                 seq, sseq, seal.origin, v->ck_origin);
        return -1;
    }
    /* The seal's events are its key's events of one commit in seq order,
     * not necessarily adjacent (other actors' events of the commit may sit
     * between them): leaf `leaf` is at seal + leaf or later. Their order
     * among each other is checked across events (seal_order). */
    if (e->ev.seal_leaf >= seal.count ||
        e->ev.seq - e->ev.seal_seq < e->ev.seal_leaf) {
        snprintf(why, cap,
                 "event %llu: leaf %llu of seal %llu, which covers %llu "
                 "events",
                 seq, (unsigned long long)e->ev.seal_leaf, sseq,
                 (unsigned long long)seal.count);
        return -1;
    }
    if (e->seal_proof == NULL) {
        snprintf(why, cap, "event %llu: no seal proof (sealproofs/%llu.proof)",
                 seq, seq);
        return -1;
    }
    {
        const char *p = (const char *)e->seal_proof->data;
        size_t len = e->seal_proof->len;
        while (len > 0) {
            if (np == LDG_PROOF_MAX || len < 45 || p[44] != '\n' ||
                ldg_unbase64(path[np], 32, p, 44) < 0) {
                snprintf(why, cap,
                         "event %llu: sealproofs/%llu.proof is not base64 "
                         "hashes, one a line",
                         seq, seq);
                return -1;
            }
            np++;
            p += 45;
            len -= 45;
        }
    }
    if (ldg_seal_verify_inclusion(d, e->ev.seal_leaf, seal.count,
                                  (const uint8_t(*)[32])path, np,
                                  seal.root) < 0) {
        snprintf(why, cap,
                 "event %llu: its claim is not in seal %llu (the seal proof "
                 "does not verify)",
                 seq, sseq);
        return -1;
    }
    if (bv_seal_sig(v, e->ev.seal_seq, sm->data, sm->len, pub) < 0) {
        snprintf(why, cap,
                 "event %llu: seal %llu does not verify with key %s%s%s%s", seq,
                 sseq, e->ev.actor, keyname ? " (" : "", keyname ? keyname : "",
                 keyname ? ")" : "");
        return -1;
    }
    return 0;
}

/* The event's own signature (format 1) or its seal (format 2) with pub:
 * 0, or -1 with why (when why is not NULL). */
int
bv_attest(struct vctx *v, const struct vev *e, const uint8_t pub[32],
          const char *keyname, char *why, size_t cap)
{
    char local[WHY_MAX];
    if (why == NULL) {
        why = local;
        cap = sizeof local;
    }
    if (e->ev.sealed)
        return seal_attest(v, e, pub, keyname, why, cap);
    if (ldg_event_verify_sig(&e->ev, pub) == 0)
        return 0;
    snprintf(why, cap,
             "event %llu: signature does not verify with key %s%s%s%s",
             (unsigned long long)e->seq, e->ev.actor, keyname ? " (" : "",
             keyname ? keyname : "", keyname ? ")" : "");
    return -1;
}

/* Pass 1, per event: decode, proof, body, and the signature when the log
 * key made it (the usual case: keys are only known after pass 1). */
void
bv_event_pass1(struct vctx *v, size_t i, struct wctx *w)
{
    struct vev *e;
    int rc;

    if (i >= v->nev) { /* the members' digests share the pass */
        bv_digest_member(v, i - v->nev);
        return;
    }
    e = &v->ev[i];
    rc = ldg_event_decode(e->entry->data, e->entry->len, &e->ev);

    if (rc < 0) {
        snprintf(e->why_entry, WHY_MAX,
                 "event %llu: entry does not decode "
                 "(%s)",
                 (unsigned long long)e->seq, bv_strerror(rc));
    } else if (e->ev.seq != e->seq) {
        snprintf(e->why_entry, WHY_MAX, "entries/%llu.entry holds event %llu",
                 (unsigned long long)e->seq, (unsigned long long)e->ev.seq);
    } else {
        e->decoded = 1;
        check_proof(v, e, w);
        if (v->vkey_ok && strcmp(e->ev.actor, v->logid) == 0)
            e->sig_early =
                bv_attest(v, e, v->logpub, NULL, NULL, 0) == 0 ? 1 : -1;
    }
    if (!e->decoded)
        snprintf(e->why_proof, WHY_MAX, "%s", e->why_entry);
    check_body(e);
}

/* Is key k allowed to sign event e? NULL or the reason why not. */
static const char *
key_refusal(struct vctx *v, const struct vev *e, const struct vkey *k,
            char *buf, size_t cap)
{
    const char *t = e->ev.type;
    int needs_log = strcmp(t, LDG_EV_LEDGER_GENESIS) == 0 ||
                    strcmp(t, LDG_EV_KEY_ADDED) == 0 ||
                    strcmp(t, LDG_EV_KEY_REVOKED) == 0;
    unsigned long long seq = (unsigned long long)e->seq;

    if (k == NULL) {
        snprintf(buf, cap,
                 "event %llu: key %s is not established by a "
                 "proven key.added in the bundle",
                 seq, e->ev.actor);
    } else if (needs_log && !k->is_log) {
        snprintf(buf, cap,
                 "event %llu: %s must be signed by the log key, "
                 "not %s (%s)",
                 seq, t, k->id, k->actor);
    } else if (!k->is_log && k->added >= e->seq) {
        snprintf(buf, cap,
                 "event %llu: key %s (%s) was only added at "
                 "event %llu",
                 seq, k->id, k->actor, (unsigned long long)k->added);
    } else if (k->revoked <= e->seq) {
        snprintf(buf, cap,
                 "event %llu: key %s (%s) was revoked at event "
                 "%llu, before this event",
                 seq, k->id, k->actor, (unsigned long long)k->revoked);
    } else if (!k->is_log && !ldg_roles_allow(k->roles, t)) {
        snprintf(buf, cap, "event %llu: %s outside the roles of key %s", seq, t,
                 k->id);
    } else {
        (void)v;
        return NULL;
    }
    return buf;
}

/* Pass 2, per event: the signature with a key valid at its seq. */
void
bv_event_sig(struct vctx *v, size_t i, struct wctx *w)
{
    struct vev *e = &v->ev[i];
    const struct vkey *k;
    int bad;

    (void)w;
    if (!e->decoded) {
        snprintf(e->why_sig, WHY_MAX, "%s", e->why_entry);
        return;
    }
    k = bv_find_key(v, e->ev.actor);
    if (key_refusal(v, e, k, e->why_sig, WHY_MAX) != NULL)
        return;
    if (e->sig_early > 0 && memcmp(k->pub, v->logpub, 32) == 0)
        bad = 0; /* already checked with this very key */
    else
        bad = bv_attest(v, e, k->pub, k->actor, e->why_sig, WHY_MAX) < 0;
    if (bad)
        return;
    e->sig_ok = 1;
}
