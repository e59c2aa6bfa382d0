/*
 * verify_keys.c — the actor keys, from the proven key events and the
 * bundle's key files (`ledger verify-bundle`; the flow is in verify.c, the
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

/* ------------------------------------------------------------- keys -- */

static struct vkey *
push_key(struct vctx *v)
{
    struct vkey *n = realloc(v->keys, (v->nkeys + 1) * sizeof *n);
    if (n == NULL)
        return NULL;
    v->keys = n;
    memset(&n[v->nkeys], 0, sizeof *n);
    n[v->nkeys].revoked = UINT64_MAX;
    return &n[v->nkeys++];
}

/* A key event is usable when proven, signed by the log key and whole. */
static int
key_event_usable(struct vctx *v, struct vev *e, struct fails *f)
{
    unsigned long long seq = (unsigned long long)e->seq;
    if (!e->decoded || !e->proof_ok) {
        bv_fail_add(f, "%s event %llu is not proven: %s", e->ev.type, seq,
                    e->decoded ? e->why_proof : e->why_entry);
        return 0;
    }
    if (strcmp(e->ev.actor, v->logid) != 0 ||
        (e->sig_early != 1 && bv_attest(v, e, v->logpub, NULL, NULL, 0) < 0)) {
        bv_fail_add(f, "%s event %llu is not signed by the log key", e->ev.type,
                    seq);
        return 0;
    }
    if (!e->body_ok || e->bstate != BS_FULL) {
        bv_fail_add(f, "%s event %llu: its body is needed whole (%s)",
                    e->ev.type, seq,
                    e->body_ok ? bv_bstate_name[e->bstate] : e->why_body);
        return 0;
    }
    return 1;
}

static void
add_actor_key(struct vctx *v, struct vev *e, struct fails *f)
{
    const char *id = bv_jstr(e->shown, "key_id");
    const char *hex = bv_jstr(e->shown, "public_key");
    const char *actor = bv_jstr(e->shown, "actor");
    char want[LDG_KEYID_LEN + 1];
    uint8_t pub[32];
    struct vkey *k;

    if (id == NULL || hex == NULL || actor == NULL ||
        ldg_unhex(pub, 32, hex) < 0) {
        bv_fail_add(f, "key.added event %llu: malformed body",
                    (unsigned long long)e->seq);
        return;
    }
    ldg_key_id(want, pub);
    if (strcmp(want, id) != 0) {
        bv_fail_add(f,
                    "key.added event %llu: key_id %s is not the id of its "
                    "public key (%s)",
                    (unsigned long long)e->seq, id, want);
        return;
    }
    if ((k = push_key(v)) == NULL) {
        bv_fail_add(f, "%s", bv_nomem());
        return;
    }
    snprintf(k->id, sizeof k->id, "%s", id);
    snprintf(k->actor, sizeof k->actor, "%s", actor);
    memcpy(k->pub, pub, 32);
    k->added = e->seq;
    k->roles = json_object_get(e->shown, "roles");
}

static void
revoke_key(struct vctx *v, struct vev *e, struct fails *f)
{
    const char *id = bv_jstr(e->shown, "key_id");
    struct vkey *k = id ? bv_find_key(v, id) : NULL;

    if (k == NULL || k->added >= e->seq) {
        bv_fail_add(f,
                    "key.revoked event %llu: revokes key %s, which no "
                    "earlier proven key.added establishes",
                    (unsigned long long)e->seq, id ? id : "?");
        return;
    }
    if (k->is_log) {
        bv_fail_add(f, "key.revoked event %llu: the log key cannot be revoked",
                    (unsigned long long)e->seq);
        return;
    }
    if (e->seq < k->revoked)
        k->revoked = e->seq;
}

/* Is there a keys/<id>.json member? */
static int
has_key_file(struct vctx *v, const char *id)
{
    char name[5 + LDG_KEYID_LEN + 6];
    snprintf(name, sizeof name, "keys/%s.json", id);
    return bundle_get(&v->b, name) != NULL;
}

/* The manifest's "keys": exactly the key files, each once (format-bundle.md
 * 2 and 7); and a file for the log key and every key that signs an
 * included event. */
static void
check_key_list(struct vctx *v, struct fails *f)
{
    const json_t *list = json_object_get(v->manifest, "keys");
    const json_t *id;
    size_t i, nfiles = 0;

    for (size_t j = 0; j < v->b.n; j++)
        nfiles += bundle_name_kind(v->b.m[j].name, NULL) == BN_KEY;
    if (!json_is_array(list)) {
        bv_fail_add(f, "manifest: no keys list");
        return;
    }
    json_array_foreach(list, i, id)
    {
        const char *s = json_string_value(id);
        if (s == NULL || strlen(s) != LDG_KEYID_LEN || !has_key_file(v, s)) {
            bv_fail_add(f, "manifest: keys names %s, which has no key file",
                        s ? s : "a non-string");
            return;
        }
        for (size_t j = 0; j < i; j++)
            if (json_equal(json_array_get(list, j), id)) {
                bv_fail_add(f, "manifest: keys names %s twice", s);
                return;
            }
    }
    if (json_array_size(list) != nfiles)
        bv_fail_add(f,
                    "manifest: keys names %zu keys, the bundle has %zu key "
                    "files",
                    json_array_size(list), nfiles);
    if (!has_key_file(v, v->logid))
        bv_fail_add(f, "keys/%s.json (the log key) is missing", v->logid);
    for (size_t j = 0; j < v->nev; j++)
        if (v->ev[j].decoded && !has_key_file(v, v->ev[j].ev.actor)) {
            bv_fail_add(f,
                        "event %llu: the key file of its signer %s is "
                        "missing",
                        (unsigned long long)v->ev[j].seq, v->ev[j].ev.actor);
            break;
        }
}

/* keys/<id>.json must agree with what the proven events say. */
static void
check_key_files(struct vctx *v, struct fails *f)
{
    check_key_list(v, f);
    for (size_t i = 0; i < v->b.n; i++) {
        const struct bmember *m = &v->b.m[i];
        char id[LDG_KEYID_LEN + 1], pubhex[65];
        uint64_t added = 0, revoked = UINT64_MAX;
        const struct vkey *k;
        json_t *j;

        if (bundle_name_kind(m->name, NULL) != BN_KEY)
            continue;
        memcpy(id, m->name + 5, LDG_KEYID_LEN);
        id[LDG_KEYID_LEN] = '\0';
        k = bv_find_key(v, id);
        j = json_loadb((const char *)m->data, m->len, JSON_REJECT_DUPLICATES,
                       NULL);
        if (k != NULL)
            ldg_hex(pubhex, k->pub, 32);
        if (k == NULL) {
            bv_fail_add(f, "%s: no proven event establishes this key", m->name);
        } else if (j == NULL || !json_is_object(j) ||
                   json_object_size(j) !=
                       4u + (json_object_get(j, "revoked_seq") != NULL) ||
                   bv_jstr(j, "key_id") == NULL ||
                   strcmp(bv_jstr(j, "key_id"), id) ||
                   bv_jstr(j, "actor") == NULL ||
                   strcmp(bv_jstr(j, "actor"), k->actor) != 0) {
            bv_fail_add(f,
                        "%s: key_id or actor name is not the one its proven "
                        "events give (%s), or it has other keys",
                        m->name, k->actor);
        } else if (bv_jstr(j, "public_key") == NULL ||
                   strcmp(bv_jstr(j, "public_key"), pubhex) != 0 ||
                   bv_ju64(j, "added_seq", &added) < 0 ||
                   (!k->is_log && added != k->added) ||
                   (json_object_get(j, "revoked_seq") != NULL &&
                    bv_ju64(j, "revoked_seq", &revoked) < 0) ||
                   revoked != k->revoked) {
            bv_fail_add(f, "%s: does not agree with the key's proven events",
                        m->name);
        }
        json_decref(j);
    }
}

/* The member "horizon" of a bundle from a pruned ledger: the horizon
 * record, signed by the log key, of this log, at or below the checkpoint,
 * with no event of the bundle before it; its keys are established at
 * their seqs (format-bundle.md 13). Returns the actor keys it adds. */
static size_t
horizon_keys(struct vctx *v, const struct bmember *m, struct fails *f)
{
    struct ldg_horizon h;
    size_t n = 0;

    if (ldg_horizon_parse(m->data, m->len, &h) < 0) {
        bv_fail_add(f, "horizon: the record does not decode");
        return 0;
    }
    if (ldg_horizon_check_sig(&h, v->logpub) != 0) {
        bv_fail_add(f, "horizon: its signature does not verify with the log "
                       "key");
    } else if (strcmp(h.origin, v->ck_origin) != 0 || h.seq > v->cksize) {
        bv_fail_add(f,
                    "horizon: of another log, or past the checkpoint's size");
    } else if (v->nev > 0 && v->ev[0].seq < h.seq) {
        bv_fail_add(f, "horizon: event %llu of the bundle is before it (%llu)",
                    (unsigned long long)v->ev[0].seq,
                    (unsigned long long)h.seq);
    } else {
        v->hz_seq = h.seq;
        if (v->hz_roles == NULL)
            v->hz_roles = json_array();
        for (size_t i = 0; i < h.nkeys; i++) {
            const struct ldg_horizon_key *hk = &h.keys[i];
            struct vkey *k;
            json_t *roles = NULL;
            if (hk->added == 0)
                continue; /* the log key: given */
            if ((k = push_key(v)) == NULL) {
                bv_fail_add(f, "%s", bv_nomem());
                break;
            }
            snprintf(k->id, sizeof k->id, "%s", hk->key_id);
            snprintf(k->actor, sizeof k->actor, "%s", hk->name);
            memcpy(k->pub, hk->pub, 32);
            k->added = hk->added;
            k->revoked = hk->revoked;
            if (hk->roles[0] != '\0') {
                char buf[LDG_HORIZON_ROLES_MAX], *save = NULL;
                roles = json_array();
                snprintf(buf, sizeof buf, "%s", hk->roles);
                for (char *r = strtok_r(buf, ",", &save); r != NULL;
                     r = strtok_r(NULL, ",", &save))
                    json_array_append_new(roles, json_string(r));
                json_array_append_new(v->hz_roles, roles);
            }
            k->roles = roles;
            n++;
        }
    }
    ldg_horizon_release(&h);
    return n;
}

void
bv_build_keys(struct vctx *v)
{
    struct vev *g = bv_find_ev(v, 0);
    const struct bmember *hzm = bundle_get(&v->b, B_HORIZON);
    struct fails f = {{0}, 0};
    struct vkey *k;
    size_t nactors = 0;

    if (!v->vkey_ok) {
        bv_check(v->r, "keys", LDG_CHECK_FAIL, "no usable log key");
        return;
    }
    if (hzm != NULL) {
        nactors += horizon_keys(v, hzm, &f);
        if (v->hz_seq == 0 && f.n == 0)
            bv_fail_add(&f, "horizon: unusable");
    } else if (g == NULL || !g->decoded ||
               strcmp(g->ev.type, LDG_EV_LEDGER_GENESIS) != 0) {
        bv_fail_add(&f, "the genesis event (0), which names the log key, is "
                        "missing");
    } else if (key_event_usable(v, g, &f)) {
        const char *hex = bv_jstr(g->shown, "log_key");
        uint8_t pub[32];
        if (hex == NULL || ldg_unhex(pub, 32, hex) < 0 ||
            memcmp(pub, v->logpub, 32) != 0)
            bv_fail_add(&f, "the genesis event names another log key than %s",
                        v->logid);
    }
    if ((k = push_key(v)) != NULL) { /* the log key itself */
        snprintf(k->id, sizeof k->id, "%s", v->logid);
        snprintf(k->actor, sizeof k->actor, "log");
        memcpy(k->pub, v->logpub, 32);
        k->is_log = 1;
    } else {
        bv_fail_add(&f, "%s", bv_strerror(LDG_ENOMEM));
    }
    for (size_t i = 0; i < v->nev; i++) { /* additions, in seq order */
        struct vev *e = &v->ev[i];
        if (!e->decoded || strcmp(e->ev.type, LDG_EV_KEY_ADDED) != 0 ||
            !key_event_usable(v, e, &f))
            continue;
        add_actor_key(v, e, &f);
        nactors++;
    }
    /* sort by id for lookups; an id added twice keeps its first addition */
    if (v->nkeys > 0)
        qsort(v->keys, v->nkeys, sizeof *v->keys, bv_cmp_vkey);
    for (size_t i = 1, j = 1; i <= v->nkeys; i++) {
        if (i == v->nkeys) { /* done: j distinct ids */
            v->nkeys = j;
            break;
        }
        if (strcmp(v->keys[i].id, v->keys[j - 1].id) == 0) {
            struct vkey *keep = &v->keys[j - 1], *dup = &v->keys[i];
            bv_fail_add(&f, "key %s is added twice (events %llu and %llu)",
                        dup->id, (unsigned long long)keep->added,
                        (unsigned long long)dup->added);
            if (dup->is_log || (!keep->is_log && dup->added < keep->added))
                *keep = *dup;
            nactors--;
        } else {
            v->keys[j++] = v->keys[i];
        }
    }
    for (size_t i = 0; i < v->nev; i++) { /* then revocations */
        struct vev *e = &v->ev[i];
        if (!e->decoded || strcmp(e->ev.type, LDG_EV_KEY_REVOKED) != 0 ||
            !key_event_usable(v, e, &f))
            continue;
        revoke_key(v, e, &f);
    }
    check_key_files(v, &f);
    bv_check_fails(v->r, "keys", &f,
                   "the log key and %zu actor key%s, "
                   "established by proven events%s",
                   nactors, nactors == 1 ? "" : "s",
                   v->hz_seq ? " and the horizon record (events before it "
                               "were pruned into an archive)"
                             : "");
}

/* ----------------------------------------------------------- epochs -- */

/* A key's anchor, from a proven key.anchored the bundle carries, and
 * where its epochs are along the bundle's seals. */
struct vanchor {
    char id[LDG_KEYID_LEN + 1];
    uint8_t anchor[32];
    uint64_t t0, len, seq;
    int started;
    uint32_t period, sub;
    /* the caller pinned it (ldg_anchor_pin); seen: the bundle's
     * key.anchored of the key was found to be the pin */
    int pinned, seen;
};

/* Notes a certified seal for bv_check_against, in the order its first
 * event comes (bv_check_against sorts them). */
static void
sealep_add(struct vctx *v, uint64_t seq, uint32_t p, uint32_t j,
           const uint8_t anchor[32], struct fails *f)
{
    struct vsealep *n;

    if ((v->nsealeps & (v->nsealeps + 1)) == 0) { /* 0, 1, 3, 7...: grow */
        n = realloc(v->sealeps, (2 * v->nsealeps + 1) * sizeof *n);
        if (n == NULL) {
            bv_fail_add(f, "%s", bv_nomem());
            return;
        }
        v->sealeps = n;
    }
    n = &v->sealeps[v->nsealeps++];
    n->seq = seq;
    n->period = p;
    n->sub = j;
    memcpy(n->anchor, anchor, 32);
}

/* The first 16 hex digits of an anchor, for messages. */
static const char *
anchor_hex16(const struct vanchor *a, char out[17])
{
    ldg_hex(out, a->anchor, 8);
    return out;
}

/* A key.anchored of a pinned key: it must be the pin. 0, or -1 after
 * saying what differs. */
static int
anchor_is_pin(struct vanchor *pin, const struct vanchor *a, struct fails *f)
{
    char ph[17], ah[17];

    if (memcmp(pin->anchor, a->anchor, 32) == 0 && pin->t0 == a->t0 &&
        pin->len == a->len && pin->seq == a->seq) {
        pin->seen = 1;
        return 0;
    }
    bv_fail_add(f,
                "event %llu: key.anchored of key %s names anchor %s... (t0 "
                "%llu, period %llu ns), not the pinned anchor %s... (t0 "
                "%llu, period %llu ns, at event %llu)",
                (unsigned long long)a->seq, a->id, anchor_hex16(a, ah),
                (unsigned long long)a->t0, (unsigned long long)a->len,
                anchor_hex16(pin, ph), (unsigned long long)pin->t0,
                (unsigned long long)pin->len, (unsigned long long)pin->seq);
    return -1;
}

static int
anchor_read(struct vctx *v, struct vev *e, struct vanchor *a, struct fails *f)
{
    const char *id = bv_jstr(e->shown, "key_id");
    const char *hex = bv_jstr(e->shown, "anchor");
    const json_t *t0 = json_object_get(e->shown, "t0");
    const json_t *len = json_object_get(e->shown, "period_ns");

    if (!key_event_usable(v, e, f))
        return -1;
    memset(a, 0, sizeof *a);
    if (id == NULL || strlen(id) != LDG_KEYID_LEN || hex == NULL ||
        strlen(hex) != 64 || ldg_unhex(a->anchor, 32, hex) < 0 ||
        !json_is_integer(t0) || json_integer_value(t0) < 0 ||
        !json_is_integer(len) || json_integer_value(len) <= 0 ||
        (uint64_t)json_integer_value(t0) > e->ev.ts_ns) {
        bv_fail_add(f, "key.anchored event %llu: malformed body",
                    (unsigned long long)e->seq);
        return -1;
    }
    snprintf(a->id, sizeof a->id, "%s", id);
    a->t0 = (uint64_t)json_integer_value(t0);
    a->len = (uint64_t)json_integer_value(len);
    a->seq = e->seq;
    return 0;
}

/* A key.anchored the bundle carries: when its key is pinned, it must be
 * the pin; else it is the key's anchor (a second of a key fails). */
static void
anchor_add(const struct vanchor *a0, struct vanchor **as, size_t *na,
           size_t *nanch, struct fails *f)
{
    struct vanchor a = *a0, *n;

    for (size_t k = 0; k < *na; k++) {
        struct vanchor *x = &(*as)[k];
        if (strcmp(x->id, a.id) != 0)
            continue;
        if (x->pinned && !x->seen) {
            if (anchor_is_pin(x, &a, f) == 0)
                (*nanch)++;
            return;
        }
        bv_fail_add(f,
                    "event %llu: key %s is anchored a second time (first at "
                    "event %llu)",
                    (unsigned long long)a.seq, a.id,
                    (unsigned long long)x->seq);
        return;
    }
    if ((n = realloc(*as, (*na + 1) * sizeof *n)) == NULL) {
        bv_fail_add(f, "%s", bv_nomem());
        return;
    }
    *as = n;
    n[(*na)++] = a;
    (*nanch)++;
}

static void
anchor_take(struct vctx *v, struct vev *e, struct vanchor **as, size_t *na,
            size_t *nanch, struct fails *f)
{
    struct vanchor a;

    if (anchor_read(v, e, &a, f) == 0)
        anchor_add(&a, as, na, nanch, f);
}

/* The anchors the bundle's horizon record keeps (FORMAT.md 6.2, "epoch":
 * keys anchored before the horizon, whose key.anchored was pruned), taken
 * as the key.anchored they stand for. */
static void
anchors_at_horizon(struct vctx *v, struct vanchor **as, size_t *na,
                   size_t *nanch, struct fails *f)
{
    const struct bmember *m = bundle_get(&v->b, B_HORIZON);
    struct ldg_horizon h;

    if (v->hz_seq == 0 || m == NULL ||
        ldg_horizon_parse(m->data, m->len, &h) < 0)
        return; /* (the keys check says why) */
    for (size_t i = 0; i < h.nkeys; i++) {
        const struct ldg_horizon_key *hk = &h.keys[i];
        struct vanchor a;
        if (!hk->anchored)
            continue;
        memset(&a, 0, sizeof a);
        snprintf(a.id, sizeof a.id, "%s", hk->key_id);
        memcpy(a.anchor, hk->anchor, 32);
        a.t0 = hk->anchor_t0_ns;
        a.len = hk->anchor_period_ns;
        a.seq = hk->anchor_seq;
        anchor_add(&a, as, na, nanch, f);
    }
    ldg_horizon_release(&h);
}

/* Where the bundle's events are along one actor's seals: a key's seals
 * never interleave, so the events of one seal come together. */
struct vsealat {
    char id[LDG_KEYID_LEN + 1];
    uint64_t seal; /* the seal of its last event */
    int epoch;     /* that seal is by an epoch key, which began at start */
    uint32_t period, sub;
    uint64_t start;
};

/* The epoch part of e's seal, at the first of its events the bundle
 * holds: by the key's epoch key, certified from its anchor (the part is
 * whole in a bundle: format-bundle.md 12), its epochs not going back
 * along the bundle. Sets at's epoch, period, sub and start. */
static void
seal_epoch(struct vctx *v, struct vev *e, struct vanchor *as, size_t na,
           struct vsealat *at, uint64_t *checked, struct fails *f)
{
    unsigned long long seq = (unsigned long long)e->seq;
    unsigned long long sseq = (unsigned long long)e->ev.seal_seq;
    struct vanchor *a = NULL;
    const struct bmember *sm;
    struct ldg_seal seal;
    char name[48], err[160];
    uint32_t p, j;
    uint64_t start;

    at->epoch = 0;
    snprintf(name, sizeof name, "seals/%llu.seal", sseq);
    if ((sm = bundle_get(&v->b, name)) == NULL ||
        ldg_seal_record_decode(sm->data, sm->len, &seal) < 0)
        return; /* the signatures check says so */
    for (size_t i = 0; i < na; i++)
        if (strcmp(as[i].id, seal.key_id) == 0 && as[i].seq < e->ev.seal_seq)
            a = &as[i];
    if (a == NULL) {
        if (seal.ext != NULL)
            bv_fail_add(f,
                        "event %llu: its seal %llu carries an epoch, but the "
                        "bundle carries no key.anchored of key %s before it "
                        "(nor its horizon record the key's anchor)",
                        seq, sseq, seal.key_id);
        return;
    }
    if (a->pinned && !a->seen) { /* the bundle has no key.anchored of it */
        char ah[17];
        uint64_t per =
            e->ev.ts_ns >= a->t0 ? (e->ev.ts_ns - a->t0) / a->len : 0;
        if (seal.ext != NULL && v->hz_seq > a->seq)
            bv_fail_add(f,
                        "event %llu: the bundle's horizon record keeps no "
                        "anchor of key %s, which the pinned anchor %s... says "
                        "was anchored at event %llu (removed, or a prune by a "
                        "build before 2026-11-29?)",
                        seq, seal.key_id, anchor_hex16(a, ah),
                        (unsigned long long)a->seq);
        else if (seal.ext != NULL)
            bv_fail_add(f,
                        "event %llu: the bundle carries no key.anchored of "
                        "key %s, which the pinned anchor %s... says was "
                        "anchored at event %llu (removed?)",
                        seq, seal.key_id, anchor_hex16(a, ah),
                        (unsigned long long)a->seq);
        else
            bv_fail_add(f,
                        "event %llu (period %llu): its seal %llu by key %s "
                        "carries no epoch, but the pinned anchor %s... says "
                        "the key seals with epoch keys since event %llu "
                        "(re-signed with the key alone, its key.anchored "
                        "removed?)",
                        seq, (unsigned long long)per, sseq, seal.key_id,
                        anchor_hex16(a, ah), (unsigned long long)a->seq);
        return;
    }
    if (seal.ext == NULL) {
        uint64_t per =
            e->ev.ts_ns >= a->t0 ? (e->ev.ts_ns - a->t0) / a->len : 0;
        bv_fail_add(f,
                    "event %llu (period %llu): its seal %llu by key %s "
                    "carries no epoch, but the key seals with epoch keys "
                    "since its anchor at event %llu (re-signed with the "
                    "key alone?)",
                    seq, (unsigned long long)per, sseq, seal.key_id,
                    (unsigned long long)a->seq);
        return;
    }
    if (ldg_epoch_seal_check(a->anchor, a->t0, a->len, &seal, &p, &j, &start,
                             err, sizeof err) < 0) {
        bv_fail_add(f, "event %llu: its seal %llu by key %s: %s", seq, sseq,
                    seal.key_id, err);
        return;
    }
    if (a->started && (p < a->period || (p == a->period && j < a->sub))) {
        bv_fail_add(f,
                    "event %llu: its seal %llu is under epoch %u.%u of key "
                    "%s, after a seal under epoch %u.%u (a key's epochs "
                    "never go back)",
                    seq, sseq, p, j, seal.key_id, a->period, a->sub);
        return;
    }
    a->started = 1;
    a->period = p;
    a->sub = j;
    (*checked)++;
    sealep_add(v, e->ev.seal_seq, p, j, a->anchor, f);
    at->epoch = 1;
    at->period = p;
    at->sub = j;
    at->start = start;
}

/* The checkpoint's epoch line (FORMAT.md 5.1), whole in a bundle: once
 * the log key's seals in the bundle are under epoch keys, the checkpoint
 * carries a signature by an epoch key certified from the log key's
 * anchor a, at or after the epoch of its last seal in the bundle (lg,
 * NULL when none is under an epoch). Appends to tail what it checked. */
static void
checkpoint_epoch(struct vctx *v, const struct vanchor *a,
                 const struct vsealat *lg, struct fails *f, char *tail,
                 size_t cap)
{
    const char *note = (const char *)v->ck->data;
    const struct bmember *line;
    unsigned long long sz = (unsigned long long)v->cksize;
    size_t tlen = ldg_note_text_len(note, v->ck->len);
    uint32_t p = 0, j = 0;
    char err[512];
    int rc;

    line = bundle_get(&v->b, B_CHECKPOINT_EPOCH);
    rc = ldg_epoch_checkpoint_check(
        note, v->ck->len, tlen, line ? (const char *)line->data : "",
        line ? line->len : 0, v->ck_origin, a->anchor, a->t0, a->len, &p, &j,
        err, sizeof err);
    if (rc == LDG_ENOTFOUND) {
        if (lg != NULL)
            bv_fail_add(f,
                        "the checkpoint of size %llu carries no signature by "
                        "an epoch key, but the log key seals with epoch keys "
                        "(epoch %u.%u, its seal %llu in the bundle): signed "
                        "again by the log key alone?",
                        sz, lg->period, lg->sub, (unsigned long long)lg->seal);
        return;
    }
    if (rc < 0) {
        bv_fail_add(f,
                    "the checkpoint of size %llu, by the log key's epoch: %s",
                    sz, err);
        return;
    }
    if (lg != NULL && (p < lg->period || (p == lg->period && j < lg->sub))) {
        bv_fail_add(f,
                    "the checkpoint of size %llu is signed by epoch %u.%u of "
                    "the log key, before epoch %u.%u of its seal %llu in the "
                    "bundle (a key's epochs never go back)",
                    sz, p, j, lg->period, lg->sub,
                    (unsigned long long)lg->seal);
        return;
    }
    snprintf(tail + strlen(tail), cap - strlen(tail),
             "; the checkpoint signed by epoch %u.%u of the log key too", p, j);
    v->ck_ep = 1;
    v->ck_period = p;
    v->ck_sub = j;
    memcpy(v->ck_anchor, a->anchor, 32);
    v->ck_t0 = a->t0;
    v->ck_len = a->len;
}

void
bv_check_equivocation(struct vctx *v)
{
    const struct ldg_bundle_verify_opts *o = v->o;
    const char *tc = o->trusted_checkpoint;
    size_t tlen =
        tc != NULL ? ldg_note_text_len(tc, o->trusted_checkpoint_len) : 0;
    uint32_t p = 0, j = 0;
    char err[512], tr[45], br[45];
    uint8_t root[32];
    uint64_t size;
    char origin[LDG_ORIGIN_MAX + 1];
    int rc;

    if (!v->trusted_fork || tlen == 0 ||
        !ldg_epoch_checkpoint_has_line(tc, o->trusted_checkpoint_len, tlen,
                                       v->ck_origin))
        return; /* no fork, or the trusted one carries no epoch line */
    if (!v->ck_ep) {
        bv_check(v->r, "equivocation", LDG_CHECK_SKIP,
                 "the trusted checkpoint carries an epoch line, but the "
                 "bundle's checkpoint no epoch signature certified from the "
                 "log key's anchor: not two statements by epoch keys");
        return;
    }
    if (o->trusted_checkpoint_epoch == NULL) {
        bv_check(v->r, "equivocation", LDG_CHECK_SKIP,
                 "the trusted checkpoint carries an epoch line, but not its "
                 "line whole (the checkpoint.epoch a publish writes beside "
                 "it) to certify its key from the anchor");
        return;
    }
    rc = ldg_epoch_checkpoint_check(
        tc, o->trusted_checkpoint_len, tlen, o->trusted_checkpoint_epoch,
        o->trusted_checkpoint_epoch_len, v->ck_origin, v->ck_anchor, v->ck_t0,
        v->ck_len, &p, &j, err, sizeof err);
    if (rc == LDG_ENOTFOUND) {
        bv_check(v->r, "equivocation", LDG_CHECK_SKIP,
                 "the trusted checkpoint's epoch line is not under the "
                 "anchor the bundle's checkpoint is certified from");
        return;
    }
    if (rc < 0) {
        bv_check(v->r, "equivocation", LDG_CHECK_SKIP,
                 "the trusted checkpoint's epoch line, with its FILE.epoch: "
                 "%s (FILE.epoch is not this checkpoint's line, or either is "
                 "forged: its key cannot be certified)",
                 rc == LDG_ENOMEM ? bv_nomem() : err);
        return;
    }
    if (ldg_checkpoint_parse(tc, tlen, origin, sizeof origin, &size, root) < 0)
        return; /* (parsed before: bv_check_trusted_checkpoint) */
    ldg_base64(tr, root, 32);
    ldg_base64(br, v->root, 32);
    bv_check(v->r, "equivocation", LDG_CHECK_FAIL,
             "at size %llu the trusted checkpoint (root %s) is signed by "
             "epoch %u.%u of the log key, the bundle's (root %s) by epoch "
             "%u.%u, each certified from the log key's anchor: two histories "
             "signed by the box's epoch keys (a clone of the box, or its keys "
             "taken)",
             (unsigned long long)size, tr, p, j, br, v->ck_period, v->ck_sub);
}

/* Epoch keys (docs/EPOCHS.md): every seal of a key the bundle shows
 * anchored (a proven key.anchored before it) carries an epoch part that
 * verifies from the anchor, and every event it seals is dated at or after
 * its epoch's start; a seal with an epoch part needs that anchor. One
 * pass in seq order; one check of a seal, at its first event. */
void
bv_check_epochs(struct vctx *v)
{
    struct vanchor *as = NULL;
    struct vsealat *at = NULL;
    struct fails f = {{0}, 0};
    uint64_t checked = 0;
    size_t na = 0, nat = 0, nanch = 0, npin = v->o->nanchors;
    char tail[320] = "";

    /* the caller's pins first: a bundle's key.anchored of a pinned key
     * must be the pin, and the key's seals after it carry epochs even
     * when the bundle says nothing of an anchor */
    if (npin > 0 && (as = calloc(npin, sizeof *as)) == NULL) {
        bv_check(v->r, "epochs", LDG_CHECK_FAIL, "%s", bv_nomem());
        return;
    }
    for (size_t k = 0; k < npin; k++) {
        const struct ldg_anchor_pin *p = &v->o->anchors[k];
        snprintf(as[na].id, sizeof as[na].id, "%s", p->key_id);
        memcpy(as[na].anchor, p->anchor, 32);
        as[na].t0 = p->t0_ns;
        as[na].len = p->period_ns;
        as[na].seq = p->seq;
        as[na].pinned = 1;
        na++;
    }
    anchors_at_horizon(v, &as, &na, &nanch, &f);
    for (size_t i = 0; i < v->nev && f.n == 0; i++) {
        struct vev *e = &v->ev[i];
        struct vsealat *s = NULL;
        if (!e->decoded)
            continue;
        if (strcmp(e->ev.type, LDG_EV_KEY_ANCHORED) == 0)
            anchor_take(v, e, &as, &na, &nanch, &f);
        if (!e->ev.sealed)
            continue;
        for (size_t k = 0; k < nat; k++)
            if (strcmp(at[k].id, e->ev.actor) == 0)
                s = &at[k];
        if (s == NULL) {
            struct vsealat *n = realloc(at, (nat + 1) * sizeof *n);
            if (n == NULL) {
                bv_fail_add(&f, "%s", bv_nomem());
                break;
            }
            at = n;
            s = &at[nat++];
            memset(s, 0, sizeof *s);
            snprintf(s->id, sizeof s->id, "%s", e->ev.actor);
            s->seal = UINT64_MAX;
        }
        if (s->seal != e->ev.seal_seq) {
            s->seal = e->ev.seal_seq;
            seal_epoch(v, e, as, na, s, &checked, &f);
        }
        if (s->epoch && e->ev.ts_ns < s->start)
            bv_fail_add(
                &f,
                "event %llu: its time %llu ns is before the start "
                "(%llu ns) of epoch %u.%u of key %s, which sealed "
                "it (the past re-signed?)",
                (unsigned long long)e->seq, (unsigned long long)e->ev.ts_ns,
                (unsigned long long)s->start, s->period, s->sub, e->ev.actor);
    }
    if (f.n == 0 && v->ck_ok && v->ck != NULL) {
        const struct vanchor *la = NULL;
        const struct vsealat *lg = NULL;
        for (size_t k = 0; k < na; k++)
            if (strcmp(as[k].id, v->logid) == 0)
                la = &as[k];
        for (size_t k = 0; k < nat; k++)
            if (strcmp(at[k].id, v->logid) == 0 && at[k].epoch)
                lg = &at[k];
        if (la != NULL && (!la->pinned || la->seen || lg != NULL))
            checkpoint_epoch(v, la, lg, &f, tail, sizeof tail);
    }
    if (npin > 0)
        snprintf(tail + strlen(tail), sizeof tail - strlen(tail),
                 "; %zu pinned anchor%s held to the bundle", npin,
                 npin == 1 ? "" : "s");
    if (nanch == 0 && checked == 0 && f.n == 0)
        bv_check(v->r, "epochs", LDG_CHECK_SKIP,
                 "no key of the bundle seals with epoch keys%s", tail);
    else
        bv_check_fails(v->r, "epochs", &f,
                       "%llu seals by epoch keys of %zu anchored keys, each "
                       "certified from its anchor, every event at or after "
                       "its epoch's start%s",
                       (unsigned long long)checked, nanch, tail);
    free(as);
    free(at);
}
