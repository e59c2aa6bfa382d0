/*
 * segment_events.c — the segment verifier's checks of one event
 * (segment_int.h): its key, its seal, its body and its leaf in the range,
 * and the events proven before and after the range.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/codec_int.h"
#include "ledger/epoch_int.h"
#include "ledger/keys_int.h"
#include "ledger/mp_int.h"
#include "ledger/segment_int.h"
#include "ledger/tlog_int.h"

int
seg_vfail(struct sv *s, enum ldg_segment_check c, uint64_t seq, const char *fmt,
          ...)
{
    va_list ap;
    int k = 0;
    s->r->ok = 0;
    s->r->failed = c;
    s->r->bad_seq = seq;
    if (seq != UINT64_MAX)
        k = snprintf(s->r->what, sizeof s->r->what, "event %" PRIu64 ": ", seq);
    va_start(ap, fmt);
    vsnprintf(s->r->what + k, sizeof s->r->what - (size_t)k, fmt, ap);
    va_end(ap);
    return c == LDG_SEGCHK_CONTAINER ? LDG_EBADINPUT : LDG_ETAMPER;
}

struct skey *
seg_key_find(struct sv *s, const char *id)
{
    if (s->lastkey < s->nkeys && strcmp(s->keys[s->lastkey].id, id) == 0)
        return &s->keys[s->lastkey];
    for (size_t i = 0; i < s->nkeys; i++)
        if (strcmp(s->keys[i].id, id) == 0) {
            s->lastkey = i;
            return &s->keys[i];
        }
    return NULL;
}

struct skey *
seg_key_add(struct sv *s, const char *id, const uint8_t pub[32], uint64_t added)
{
    struct skey *k;
    if (s->nkeys == s->capkeys) {
        size_t cap = s->capkeys ? 2 * s->capkeys : 16;
        struct skey *nk = realloc(s->keys, cap * sizeof *nk);
        if (nk == NULL)
            return NULL;
        s->keys = nk;
        s->capkeys = cap;
    }
    k = &s->keys[s->nkeys++];
    memset(k, 0, sizeof *k);
    snprintf(k->id, sizeof k->id, "%s", id);
    memcpy(k->pub, pub, 32);
    k->added = added;
    k->revoked = UINT64_MAX;
    k->roles = UINT32_MAX;
    return k;
}

void
seg_tree_push(struct sv *s, const uint8_t h[32], int level)
{
    LDG_ASSERT(s->fn <= 64);
    memcpy(s->fh[s->fn], h, 32);
    s->flevel[s->fn++] = level;
    while (s->fn >= 2 && s->flevel[s->fn - 1] == s->flevel[s->fn - 2]) {
        ldg_tlog_node_hash(s->fh[s->fn - 2], s->fh[s->fn - 2],
                           s->fh[s->fn - 1]);
        s->flevel[s->fn - 2]++;
        s->fn--;
    }
    LDG_ASSERT(s->fn < 2 || s->flevel[s->fn - 1] < s->flevel[s->fn - 2]);
}

void
seg_tree_root(const struct sv *s, uint8_t root[32])
{
    if (s->fn == 0) {
        ldg_sha256(root, "", 0);
        return;
    }
    memcpy(root, s->fh[s->fn - 1], 32);
    for (int i = s->fn - 2; i >= 0; i--)
        ldg_tlog_node_hash(root, s->fh[i], root);
}

static int
is_key_type(const char *type)
{
    return strcmp(type, LDG_EV_KEY_ADDED) == 0 ||
           strcmp(type, LDG_EV_KEY_REVOKED) == 0;
}

static int
needs_body(const char *type)
{
    return is_key_type(type) || strcmp(type, LDG_EV_LEDGER_GENESIS) == 0 ||
           strcmp(type, LDG_EV_BODY_ERASED) == 0 ||
           strcmp(type, LDG_EV_KEY_ANCHORED) == 0;
}

/* May the actor of ev vouch for it at its seq (FORMAT.md 3, 5)? */
static int
check_key(struct sv *s, const struct ldg_event *ev, struct skey **out)
{
    struct skey *k = seg_key_find(s, ev->actor);
    *out = k;
    if (k == NULL || (k->added >= ev->seq && !(ev->seq == 0 && k->added == 0)))
        return seg_vfail(s, LDG_SEGCHK_KEYS, ev->seq,
                         "%s by key %s, which the log had not added before "
                         "this event (nor any earlier horizon or key event the "
                         "segment carries)",
                         ev->sealed ? "sealed" : "signed", ev->actor);
    if (k->revoked < ev->seq)
        return seg_vfail(s, LDG_SEGCHK_KEYS, ev->seq,
                         "by key %s after it was revoked at event %" PRIu64,
                         ev->actor, k->revoked);
    if ((is_key_type(ev->type) ||
         strcmp(ev->type, LDG_EV_LEDGER_GENESIS) == 0) &&
        strcmp(ev->actor, s->log_id) != 0)
        return seg_vfail(s, LDG_SEGCHK_KEYS, ev->seq,
                         "%s is not by the log key", ev->type);
    if (k->added != 0 && !ldg_roles_mask_allows(k->roles, ev->type))
        return seg_vfail(s, LDG_SEGCHK_KEYS, ev->seq,
                         "%s by key %s (%s), whose roles (key.added at event "
                         "%" PRIu64 ") do not allow it",
                         ev->type, ev->actor, k->name, k->added);
    return 0;
}

static int
erased_add(struct sv *s, uint64_t seq)
{
    if (s->nerased == s->caperased) {
        size_t cap = s->caperased ? 2 * s->caperased : 64;
        uint64_t *e = realloc(s->erased, cap * sizeof *e);
        uint8_t *nm;
        if (e == NULL)
            return LDG_ENOMEM;
        s->erased = e;
        if ((nm = realloc(s->named, cap)) == NULL)
            return LDG_ENOMEM;
        s->named = nm;
        s->caperased = cap;
    }
    s->erased[s->nerased] = seq;
    s->named[s->nerased++] = 0;
    return 0;
}

/* A body a segment carries is a stored record (FORMAT.md section 4) of a
 * kind that names no dictionary, uncompressed (the stream compresses it):
 * salted 0x00, or seeded 0x02 (layout 5's salts) or 0x05 (AES salts).
 * One body, one form: a compressed record (0x01, 0x03, 0x04, 0x06), even
 * of dictionary 0, is refused, as is any other flag. */
int
seg_body_kind(struct sv *s, uint64_t seq, const uint8_t *p, size_t n)
{
    if (n > 0 && (p[0] == LDG_BODY_RAW || p[0] == LDG_BODY_SEEDED ||
                  p[0] == LDG_BODY_SEEDED_AES))
        return 0;
    if (n == 0)
        return seg_vfail(s, LDG_SEGCHK_BODIES, seq,
                         "its body record is empty (an erased body is an "
                         "ERASED record)");
    return seg_vfail(s, LDG_SEGCHK_BODIES, seq,
                     "its body record is of kind 0x%02x; a segment carries a "
                     "body uncompressed, in a kind that names no dictionary "
                     "(0x00, 0x02 or 0x05, FORMAT.md 11.1)",
                     p[0]);
}

/* The caller's pin of key id's anchor (docs/EPOCHS.md), or NULL. */
static const struct ldg_anchor_pin *
pin_of(const struct sv *s, const char *id)
{
    for (size_t i = 0; s->check && i < s->o->nanchors; i++)
        if (strcmp(s->o->anchors[i].key_id, id) == 0)
            return &s->o->anchors[i];
    return NULL;
}

/* A seal by key k whose first event is seq, and no key.anchored of k
 * before it in the segment (nor its anchor in the horizon record): 0, or
 * the failure when the caller pinned k's anchor before seq (its
 * key.anchored removed, the seal re-signed with the key alone, or the
 * anchor dropped from the horizon record). */
static int
pinned_unanchored(struct sv *s, const struct ldg_event *ev, uint64_t seq,
                  const struct skey *k, int has_ext)
{
    const struct ldg_anchor_pin *pin = pin_of(s, k->id);
    char ah[17];

    if (pin == NULL || pin->seq >= seq)
        return 0;
    ldg_hex(ah, pin->anchor, 8);
    if (has_ext && s->r->info.horizon_seq > pin->seq)
        return seg_vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                         "the segment's horizon record keeps no anchor of "
                         "key %s, which the pinned anchor %s... says was "
                         "anchored at event %" PRIu64 " (removed, or a "
                         "prune by a build before 2026-11-29?)",
                         k->id, ah, pin->seq);
    if (has_ext)
        return seg_vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                         "the segment carries no key.anchored of key %s, which "
                         "the pinned anchor %s... says was anchored at event "
                         "%" PRIu64 " (removed?)",
                         k->id, ah, pin->seq);
    return seg_vfail(
        s, LDG_SEGCHK_SEALS, ev->seq,
        "(period %" PRIu64 ") its seal by key %s carries no epoch, "
        "but the pinned anchor %s... says the key seals with epoch "
        "keys since event %" PRIu64 " (re-signed with the key "
        "alone, its key.anchored removed?)",
        ev->ts_ns >= pin->t0_ns ? (ev->ts_ns - pin->t0_ns) / pin->period_ns : 0,
        k->id, ah, pin->seq);
}

/* What a key event, the genesis or a body.erased does (its body given
 * and checked against its commitment). */
/* 1 when pin names anchor par of the key.anchored at seq. */
static int
pin_is(const struct ldg_anchor_pin *pin, const struct ldg_epoch_params *par,
       uint64_t seq)
{
    return memcmp(pin->anchor, par->anchor, 32) == 0 &&
           pin->t0_ns == par->t0_ns && pin->period_ns == par->len_ns &&
           pin->seq == seq;
}

/* k's epoch seals after seq are checked from anchor par. */
static int
key_anchor(struct skey *k, const struct ldg_epoch_params *par, uint64_t seq)
{
    if ((k->ep = malloc(sizeof *k->ep)) == NULL)
        return LDG_ENOMEM;
    ldg_epoch_chain_init(k->ep, par);
    k->anchored = seq + 1;
    return 0;
}

/* A key.anchored (FORMAT.md 5.1): its key's epoch seals after it are
 * checked from the anchor, which must be the caller's pin when there is
 * one. */
static int
take_anchor(struct sv *s, const struct ldg_event *ev, const json_t *j)
{
    const char *id = json_string_value(json_object_get(j, "key_id"));
    const char *hex = json_string_value(json_object_get(j, "anchor"));
    const json_t *t0 = json_object_get(j, "t0");
    const json_t *len = json_object_get(j, "period_ns");
    struct ldg_epoch_params par;
    struct skey *k = id ? seg_key_find(s, id) : NULL;
    const struct ldg_anchor_pin *pin;

    memset(&par, 0, sizeof par);
    if (k == NULL)
        return seg_vfail(s, LDG_SEGCHK_KEYS, ev->seq,
                         "key.anchored names unknown key %s",
                         id ? id : "(none)");
    if (hex == NULL || strlen(hex) != 64 ||
        ldg_unhex(par.anchor, 32, hex) < 0 || !json_is_integer(t0) ||
        json_integer_value(t0) < 0 || !json_is_integer(len) ||
        json_integer_value(len) < (json_int_t)LDG_EPOCH_LEN_MIN_NS ||
        json_integer_value(len) > (json_int_t)LDG_EPOCH_LEN_MAX_NS ||
        (uint64_t)json_integer_value(t0) > ev->ts_ns)
        return seg_vfail(
            s, LDG_SEGCHK_KEYS, ev->seq,
            "key.anchored of key %s: its anchor, t0 or period_ns is "
            "not valid",
            id);
    if (k->anchored)
        return seg_vfail(s, LDG_SEGCHK_KEYS, ev->seq,
                         "key %s is anchored a second time (first at event "
                         "%" PRIu64 ")",
                         id, k->anchored - 1);
    par.t0_ns = (uint64_t)json_integer_value(t0);
    par.len_ns = (uint64_t)json_integer_value(len);
    if ((pin = pin_of(s, id)) != NULL && !pin_is(pin, &par, ev->seq)) {
        char ah[17];
        ldg_hex(ah, pin->anchor, 8);
        return seg_vfail(s, LDG_SEGCHK_KEYS, ev->seq,
                         "key.anchored of key %s names anchor %.16s... (t0 "
                         "%" PRIu64 ", period %" PRIu64 " ns), not the pinned "
                         "anchor %s... (t0 %" PRIu64 ", period %" PRIu64
                         " ns, at event %" PRIu64 ")",
                         id, hex, par.t0_ns, par.len_ns, ah, pin->t0_ns,
                         pin->period_ns, pin->seq);
    }
    return key_anchor(k, &par, ev->seq);
}

int
seg_anchor_at_horizon(struct sv *s, struct skey *k,
                      const struct ldg_horizon_key *hk)
{
    const struct ldg_anchor_pin *pin = pin_of(s, k->id);
    struct ldg_epoch_params par;

    ldg_epoch_horizon_params(hk, &par);
    if (pin != NULL && !pin_is(pin, &par, hk->anchor_seq)) {
        char ah[17], hh[17];
        ldg_hex(ah, pin->anchor, 8);
        ldg_hex(hh, hk->anchor, 8);
        return seg_vfail(s, LDG_SEGCHK_HORIZON, UINT64_MAX,
                         "the horizon record keeps anchor %s... of key %s "
                         "(at event %" PRIu64 "), not the pinned anchor "
                         "%s... (at event %" PRIu64 ")",
                         hh, k->id, hk->anchor_seq, ah, pin->seq);
    }
    return key_anchor(k, &par, hk->anchor_seq);
}

static int
apply_body(struct sv *s, const struct ldg_event *ev, const uint8_t *body,
           size_t blen)
{
    json_t *j = NULL;
    int rc = 0;

    if (ldg_body_decode_json(NULL, body, blen, s->body_max, &j) < 0)
        return seg_vfail(s, LDG_SEGCHK_BODIES, ev->seq,
                         "its body does not decode");
    if (strcmp(ev->type, LDG_EV_LEDGER_GENESIS) == 0) {
        const char *hex = json_string_value(json_object_get(j, "log_key"));
        const char *org = json_string_value(json_object_get(j, "origin"));
        uint8_t pub[32];
        if (hex == NULL || ldg_unhex(pub, 32, hex) < 0 ||
            memcmp(pub, s->h.key, 32) != 0)
            rc = seg_vfail(s, LDG_SEGCHK_KEYS, ev->seq,
                           "the genesis names another log key than the "
                           "segment's");
        else if (org == NULL || strcmp(org, s->h.origin) != 0)
            rc = seg_vfail(s, LDG_SEGCHK_KEYS, ev->seq,
                           "the genesis names another origin than the "
                           "segment's");
    } else if (strcmp(ev->type, LDG_EV_KEY_ADDED) == 0) {
        const char *id = json_string_value(json_object_get(j, "key_id"));
        const char *hex = json_string_value(json_object_get(j, "public_key"));
        const char *nm = json_string_value(json_object_get(j, "actor"));
        char want[LDG_KEYID_LEN + 1];
        uint8_t pub[32];
        struct skey *k;
        if (id == NULL || hex == NULL || ldg_unhex(pub, 32, hex) < 0)
            rc = seg_vfail(s, LDG_SEGCHK_KEYS, ev->seq,
                           "key.added without a valid public key");
        else if (ldg_key_id(want, pub), strcmp(want, id) != 0)
            rc = seg_vfail(s, LDG_SEGCHK_KEYS, ev->seq,
                           "key.added: key_id %s does not match the public key "
                           "(%s)",
                           id, want);
        else if (seg_key_find(s, id) != NULL)
            rc = seg_vfail(s, LDG_SEGCHK_KEYS, ev->seq, "key %s added twice",
                           id);
        else if ((k = seg_key_add(s, id, pub, ev->seq)) == NULL)
            rc = LDG_ENOMEM;
        else {
            snprintf(k->name, sizeof k->name, "%s", nm ? nm : "");
            k->roles = ldg_roles_mask(json_object_get(j, "roles"));
            /* its seals' running count starts here when every event
             * after its key.added is the segment's (not for one proven
             * before the range) */
            k->sealed_known = ev->seq >= s->h.first;
        }
    } else if (strcmp(ev->type, LDG_EV_KEY_ANCHORED) == 0) {
        rc = take_anchor(s, ev, j);
    } else if (strcmp(ev->type, LDG_EV_KEY_REVOKED) == 0) {
        const char *id = json_string_value(json_object_get(j, "key_id"));
        struct skey *k = id ? seg_key_find(s, id) : NULL;
        if (k == NULL)
            rc = seg_vfail(s, LDG_SEGCHK_KEYS, ev->seq,
                           "key.revoked names unknown key %s",
                           id ? id : "(none)");
        else if (k->revoked == UINT64_MAX)
            k->revoked = ev->seq;
    } else if (strcmp(ev->type, LDG_EV_BODY_ERASED) == 0) {
        json_int_t tg = json_integer_value(json_object_get(j, "target_seq"));
        if (!json_is_integer(json_object_get(j, "target_seq")) || tg < 0 ||
            (uint64_t)tg >= ev->seq) {
            rc = seg_vfail(s, LDG_SEGCHK_ERASURES, ev->seq,
                           "body.erased names event %lld, not an earlier one",
                           (long long)tg);
        } else if ((uint64_t)tg >= s->h.first && (uint64_t)tg < s->h.end &&
                   (uint64_t)tg < s->next_seq) {
            /* the range's: its body must be gone */
            size_t lo = 0, hi = s->nerased;
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (s->erased[mid] < (uint64_t)tg)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            if (lo == s->nerased || s->erased[lo] != (uint64_t)tg)
                rc = seg_vfail(s, LDG_SEGCHK_ERASURES, (uint64_t)tg,
                               "its body was erased by event %" PRIu64
                               " but the segment still holds it",
                               ev->seq);
            else
                s->named[lo] = 1;
        }
    }
    json_decref(j);
    return rc;
}

/* Format 2: the event's place in its seal, seal_rec the record that came
 * before it (a seal's first event). */
/* At a seal's first event (FORMAT.md 5.1, 11.8): a key anchored before
 * it seals with its epoch key, under a chain from its anchor (the first
 * of its seals the segment holds carries its epoch part whole, the later
 * ones what the log had not carried); a seal with an epoch part needs its
 * key's anchor (a key.anchored, or the horizon record's). */
static int
open_epoch(struct sv *s, const struct ldg_event *ev, struct skey *k,
           struct sopen *o)
{
    struct ldg_epoch_ext x;
    char err[512];

    if (!k->anchored || k->anchored - 1 >= ev->seq) {
        int rc = pinned_unanchored(s, ev, ev->seq, k, o->seal.ext != NULL);
        if (rc < 0 || o->seal.ext == NULL)
            return rc;
        return seg_vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                         "its seal carries an epoch, but the segment carries "
                         "no key.anchored of key %s before it (nor its "
                         "horizon record its anchor)",
                         k->id);
    }
    if (o->seal.ext == NULL) {
        uint64_t p = ev->ts_ns >= k->ep->par.t0_ns
                         ? (ev->ts_ns - k->ep->par.t0_ns) / k->ep->par.len_ns
                         : 0;
        return seg_vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                         "(period %" PRIu64 ") its seal by key %s carries no "
                         "epoch, but the key seals with epoch keys since its "
                         "anchor at event %" PRIu64 " (re-signed with the key "
                         "alone?)",
                         p, k->id, k->anchored - 1);
    }
    if (ldg_epoch_ext_decode(o->seal.ext, o->seal.ext_len, &x) < 0)
        return seg_vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                         "its seal's epoch part does not decode");
    if (ldg_epoch_chain_step(k->ep, &x, err, sizeof err) < 0)
        return seg_vfail(s, LDG_SEGCHK_SEALS, ev->seq, "its seal by key %s: %s",
                         k->id, err);
    o->epoch = 1;
    o->e = k->ep->cur;
    memcpy(o->ep_pub, k->ep->pub, 32);
    memcpy(o->ep_sig, x.sig, 64);
    o->ep_start = k->ep->start_ns;
    o->seal.ext = NULL; /* (its bytes are the reader's, not kept) */
    o->seal.ext_len = 0;
    s->r->info.epoch_seals++;
    return 0;
}

static int
check_seal(struct sv *s, const struct ldg_event *ev, struct skey *k)
{
    struct sopen *o;
    uint8_t d[32];
    int rc;

    if (ev->seal_leaf == 0) {
        if (!s->have_seal)
            return seg_vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                             "it opens a seal, but the segment carries no seal "
                             "record before it");
        s->have_seal = 0;
        if (strcmp(s->pend.key_id, ev->actor) != 0)
            return seg_vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                             "actor %s but its seal is by %s", ev->actor,
                             s->pend.key_id);
        if (strcmp(s->pend.origin, s->h.origin) != 0)
            return seg_vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                             "its seal names another log (%s)", s->pend.origin);
        if (k->open)
            return seg_vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                             "key %s opens a seal while its seal at %" PRIu64
                             " has %" PRIu64 " of its %" PRIu64 " events",
                             k->id, s->seals[k->open - 1].seal_seq,
                             s->seals[k->open - 1].next,
                             s->seals[k->open - 1].seal.count);
        if (k->sealed_known && s->pend.first != k->sealed)
            return seg_vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                             "its seal says key %s sealed %" PRIu64
                             " events before it; the log says %" PRIu64,
                             k->id, s->pend.first, k->sealed);
        {
            size_t i;
            for (i = 0; i < s->nseals && s->seals[i].key >= 0; i++)
                ;
            if (i == s->nseals) {
                struct sopen *ns =
                    realloc(s->seals, (s->nseals + 1) * sizeof *ns);
                if (ns == NULL)
                    return LDG_ENOMEM;
                s->seals = ns;
                s->nseals++;
            }
            o = &s->seals[i];
            memset(o, 0, sizeof *o);
            o->seal = s->pend;
            o->seal_seq = ev->seq;
            o->key = (int)(k - s->keys);
            if ((rc = open_epoch(s, ev, k, o)) != 0)
                return rc;
            ldg_seal_acc_init(&o->acc);
            k->open = (int)i + 1;
        }
    } else {
        if (s->have_seal)
            return seg_vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                             "a seal record comes before it, but it is leaf "
                             "%" PRIu64 " of the seal at %" PRIu64,
                             ev->seal_leaf, ev->seal_seq);
        if (!k->open || s->seals[k->open - 1].seal_seq != ev->seal_seq)
            return seg_vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                             "leaf %" PRIu64 " of a seal at %" PRIu64
                             " that key %s has not open here",
                             ev->seal_leaf, ev->seal_seq, k->id);
    }
    o = &s->seals[k->open - 1];
    if (o->epoch && ev->ts_ns < o->ep_start)
        return seg_vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                         "its time %" PRIu64 " ns is before the start (%" PRIu64
                         " ns) of epoch %" PRIu32 ".%" PRIu32
                         " of key %s, which "
                         "sealed it (the past re-signed?)",
                         ev->ts_ns, o->ep_start, o->e.period, o->e.sub, k->id);
    if (ev->seal_leaf != o->next)
        return seg_vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                         "leaf %" PRIu64 " of seal %" PRIu64
                         ", which expects leaf %" PRIu64,
                         ev->seal_leaf, o->seal_seq, o->next);
    ldg_claim_digest(d, ev->signed_part, ev->signed_len);
    ldg_seal_acc_add(&o->acc, d);
    if (++o->next == o->seal.count) {
        uint8_t root[32];
        ldg_seal_acc_root(&o->acc, root);
        if (memcmp(root, o->seal.root, 32) != 0)
            return seg_vfail(s, LDG_SEGCHK_SEALS, o->seal_seq,
                             "its seal's root is not the root of its %" PRIu64
                             " events' claims (one of events %" PRIu64
                             "..%" PRIu64 " was changed)",
                             o->seal.count, o->seal_seq, ev->seq);
        if (!o->epoch && ldg_seal_verify(&o->seal, k->pub) != 0)
            return seg_vfail(s, LDG_SEGCHK_SEALS, o->seal_seq,
                             "seal %" PRIu64 " does not verify with key %s",
                             o->seal_seq, k->id);
        if (o->epoch) {
            uint8_t map[LDG_SEAL_MAP_MAX];
            size_t mn;
            if (ldg_seal_map_encode(&o->seal, map, sizeof map, &mn) < 0 ||
                ldg_epoch_seal_verify(o->ep_pub, o->e, map, mn, o->ep_sig) < 0)
                return seg_vfail(s, LDG_SEGCHK_SEALS, o->seal_seq,
                                 "seal %" PRIu64 " by key %s: its epoch "
                                 "signature does not verify with the key of "
                                 "epoch %" PRIu32 ".%" PRIu32,
                                 o->seal_seq, k->id, o->e.period, o->e.sub);
        }
        s->r->info.seal_checks++;
        k->sealed += o->seal.count;
        k->open = 0;
        o->key = -1;
    }
    return 0;
}

/* The checks of one event of the range (entry rebuilt, decoded). */
int
seg_range_event(struct sv *s, const struct ldg_event *ev, const uint8_t *body,
                size_t blen)
{
    struct skey *k = NULL;
    int rc, is_gen = strcmp(ev->type, LDG_EV_LEDGER_GENESIS) == 0;

    if (ev->seq != s->next_seq)
        return seg_vfail(s, LDG_SEGCHK_CHAIN, s->next_seq,
                         "the segment holds event %" PRIu64 " where %" PRIu64
                         " belongs (events reordered, left out or added)",
                         ev->seq, s->next_seq);
    if ((ev->seq == 0) != is_gen)
        return seg_vfail(s, LDG_SEGCHK_CHAIN, ev->seq,
                         is_gen ? "ledger.genesis after event 0"
                                : "event 0 is not ledger.genesis");
    if (s->ts_known && ev->ts_ns <= s->last_ts)
        return seg_vfail(s, LDG_SEGCHK_CHAIN, ev->seq,
                         "its time %" PRIu64 " is not after the one before "
                         "(%" PRIu64 ")",
                         ev->ts_ns, s->last_ts);
    if (ev->has_parent && ev->parent >= ev->seq)
        return seg_vfail(s, LDG_SEGCHK_CHAIN, ev->seq,
                         "its parent %" PRIu64 " is not an earlier event",
                         ev->parent);
    if ((s->h.format >= 2) != (ev->sealed != 0))
        return seg_vfail(s, LDG_SEGCHK_CHAIN, ev->seq,
                         "a %s entry in a segment of a format %" PRIu64
                         " ledger",
                         ev->sealed ? "sealed" : "signed", s->h.format);
    if (is_gen && body != NULL && s->check) {
        /* the log key, from the genesis: valid from event 0 */
        struct skey *lk = seg_key_find(s, s->log_id);
        if (lk == NULL && (lk = seg_key_add(s, s->log_id, s->h.key, 0)) == NULL)
            return LDG_ENOMEM;
        snprintf(lk->name, sizeof lk->name, "%s", LDG_LOG_KEY_NAME);
        lk->sealed_known = 1;
    }
    if (s->check) {
        if ((rc = check_key(s, ev, &k)) != 0)
            return rc;
        if (ev->sealed) {
            if ((rc = check_seal(s, ev, k)) != 0)
                return rc;
        } else {
            if (ldg_event_verify_sig(ev, k->pub) != 0)
                return seg_vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                                 "signature does not verify with key %s",
                                 ev->actor);
            s->r->info.signatures++;
        }
    } else if (ev->sealed && ev->seal_leaf == 0) {
        s->have_seal = 0; /* (read, not checked) */
    }
    if (body == NULL) {
        if (needs_body(ev->type))
            return seg_vfail(
                s, LDG_SEGCHK_ERASURES, ev->seq,
                "a %s whose body is erased: verification needs it, "
                "and no body.erased may name it",
                ev->type);
        if ((rc = erased_add(s, ev->seq)) < 0)
            return rc;
        s->r->info.erased++;
    } else if (s->check && s->bw != NULL && !needs_body(ev->type)) {
        /* (checked on the worker, reported at the end) */
        if ((rc = seg_bworker_add(s->bw, ev->seq, body, blen, ev->body_root)) <
            0)
            return rc;
    } else if (s->check) {
        uint8_t root[32];
        if (ldg_body_rec_root(NULL, body, blen, s->body_max, root) < 0)
            return seg_vfail(s, LDG_SEGCHK_BODIES, ev->seq,
                             "its body record does not decode");
        if (memcmp(root, ev->body_root, 32) != 0)
            return seg_vfail(s, LDG_SEGCHK_BODIES, ev->seq,
                             "body does not match its commitment in the entry");
        if (needs_body(ev->type) && (rc = apply_body(s, ev, body, blen)) != 0)
            return rc;
    }
    if (s->o->leaf != NULL) {
        char what[400];
        what[0] = '\0';
        int c = s->o->leaf(s->o->ctx, ev->seq, ev->leaf, body != NULL, what);
        if (c != 0)
            return seg_vfail(
                s,
                c > 0 && c < LDG_SEGCHK_COUNT ? (enum ldg_segment_check)c
                                              : LDG_SEGCHK_TREE,
                ev->seq, "%s", what[0] ? what : "refused by the caller");
    }
    if (s->check)
        seg_tree_push(s, ev->leaf, 0);
    memcpy(s->prev, ev->leaf, 32);
    s->last_ts = ev->ts_ns;
    s->ts_known = 1;
    s->next_seq++;
    return 0;
}

/* A proven event's seal by a key anchored before it: its epoch part,
 * whole (FORMAT.md 11.5), checked from the anchor alone, and the event
 * dated at or after its epoch's start. */
static int
proven_epoch(struct sv *s, const struct ldg_event *ev, const struct skey *k,
             const struct ldg_seal *seal)
{
    uint32_t p, j;
    uint64_t start;
    char err[512];

    if (!k->anchored || k->anchored - 1 >= ev->seal_seq) {
        int rc = pinned_unanchored(s, ev, ev->seal_seq, k, seal->ext != NULL);
        if (rc < 0 || seal->ext == NULL)
            return rc;
        return seg_vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                         "its seal carries an epoch, but the segment carries "
                         "no key.anchored of key %s before it (nor its "
                         "horizon record its anchor)",
                         k->id);
    }
    if (seal->ext == NULL)
        return seg_vfail(
            s, LDG_SEGCHK_SEALS, ev->seq,
            "its seal by key %s carries no epoch, but the key seals "
            "with epoch keys since its anchor at event %" PRIu64
            " (re-signed with the key alone?)",
            k->id, k->anchored - 1);
    if (ldg_epoch_seal_check(k->ep->par.anchor, k->ep->par.t0_ns,
                             k->ep->par.len_ns, seal, &p, &j, &start, err,
                             sizeof err) < 0)
        return seg_vfail(s, LDG_SEGCHK_SEALS, ev->seq, "its seal by key %s: %s",
                         k->id, err);
    if (ev->ts_ns < start)
        return seg_vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                         "its time %" PRIu64 " ns is before the start (%" PRIu64
                         " ns) of epoch %" PRIu32 ".%" PRIu32
                         " of key %s, which "
                         "sealed it (the past re-signed?)",
                         ev->ts_ns, start, p, j, k->id);
    s->r->info.epoch_seals++;
    return 0;
}

/* A PROVEN record: an event outside the range with its inclusion path in
 * the checkpoint's tree (and, format 2, its seal and path in it). */
int
seg_proven_event(struct sv *s, const uint8_t *p, size_t n, int after,
                 struct ldg_event *ev, struct ldg_segment_event *se)
{
    static const char *const pkeys[5] = {"body", "entry", "path", "seal",
                                         "sealpath"};
    struct rd r = {p, p + n};
    const uint8_t *f[5] = {0};
    size_t fl[5] = {0};
    unsigned m;
    struct skey *k = NULL;
    uint8_t path[LDG_PROOF_MAX][32];
    int rc;

    if (r_map(&r, &m) < 0 || m != (s->h.format >= 2 ? 5u : 3u))
        return seg_vfail(s, LDG_SEGCHK_CONTAINER, UINT64_MAX,
                         "a proven event's record does not decode");
    for (unsigned i = 0; i < m; i++) {
        uint8_t c;
        uint64_t len;
        if (r_key(&r, pkeys, (int)m, (int)i) != (int)i || r.p >= r.end)
            return seg_vfail(s, LDG_SEGCHK_CONTAINER, UINT64_MAX,
                             "a proven event's record does not decode");
        c = *r.p;
        if (c == 0xc4 && r.end - r.p >= 2) {
            len = r.p[1];
            r.p += 2;
        } else if (c == 0xc5 && r.end - r.p >= 3) {
            len = ldg_rd_be16(r.p + 1);
            r.p += 3;
            if (len < 256)
                len = UINT64_MAX;
        } else if (c == 0xc6 && r.end - r.p >= 5) {
            len = ldg_rd_be32(r.p + 1);
            r.p += 5;
            if (len < 65536)
                len = UINT64_MAX;
        } else {
            len = UINT64_MAX;
        }
        if (len > (uint64_t)(r.end - r.p))
            return seg_vfail(s, LDG_SEGCHK_CONTAINER, UINT64_MAX,
                             "a proven event's record does not decode");
        f[i] = r.p;
        fl[i] = (size_t)len;
        r.p += len;
    }
    if (r.p != r.end || fl[2] % 32 != 0 || fl[2] / 32 > LDG_PROOF_MAX ||
        (m == 5 && (fl[4] % 32 != 0 || fl[4] / 32 > LDG_PROOF_MAX)))
        return seg_vfail(s, LDG_SEGCHK_CONTAINER, UINT64_MAX,
                         "a proven event's record does not decode");
    if (ldg_event_decode(f[1], fl[1], ev) < 0)
        return seg_vfail(s, LDG_SEGCHK_CHAIN, UINT64_MAX,
                         "an entry the segment carries outside its range does "
                         "not decode");
    se->body = f[0];
    se->body_len = fl[0];
    if ((rc = seg_body_kind(s, ev->seq, f[0], fl[0])) != 0)
        return rc;
    if ((after && ev->seq < s->h.end) || (!after && ev->seq >= s->h.first) ||
        (s->last_proven != UINT64_MAX && ev->seq <= s->last_proven) ||
        ev->seq >= s->n)
        return seg_vfail(s, LDG_SEGCHK_CONTAINER, ev->seq,
                         "a proven event out of its place (before the range, "
                         "after it, in increasing seq, within the checkpoint)");
    s->last_proven = ev->seq;
    if (!needs_body(ev->type))
        return seg_vfail(
            s, LDG_SEGCHK_CONTAINER, ev->seq,
            "a %s carried outside the range: only the genesis, key "
            "events and erasures are",
            ev->type);
    if (!s->check) {
        if (after)
            s->r->info.after++;
        else
            s->r->info.prior++;
        return 0;
    }
    memcpy(path, f[2], fl[2]);
    if (ldg_tlog_verify_inclusion(ev->leaf, ev->seq, s->n,
                                  (const uint8_t(*)[32])path, fl[2] / 32,
                                  s->root) != 0)
        return seg_vfail(s, LDG_SEGCHK_TREE, ev->seq,
                         "its inclusion path does not lead to the checkpoint's "
                         "root (size %" PRIu64 ")",
                         s->n);
    if (strcmp(ev->type, LDG_EV_LEDGER_GENESIS) == 0) {
        /* the log key, from the genesis (its body checked below) */
        struct skey *lk = seg_key_find(s, s->log_id);
        if (lk == NULL && (lk = seg_key_add(s, s->log_id, s->h.key, 0)) == NULL)
            return LDG_ENOMEM;
        snprintf(lk->name, sizeof lk->name, "%s", LDG_LOG_KEY_NAME);
    }
    if ((rc = check_key(s, ev, &k)) != 0)
        return rc;
    if (ev->sealed) {
        struct ldg_seal seal;
        uint8_t d[32];
        if (ldg_seal_record_decode(f[3], fl[3], &seal) < 0)
            return seg_vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                             "its seal record does not decode");
        if (strcmp(seal.key_id, ev->actor) != 0 ||
            strcmp(seal.origin, s->h.origin) != 0 ||
            ev->seal_leaf >= seal.count)
            return seg_vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                             "its seal (at %" PRIu64 ") is not its key's of "
                             "this log, or has no leaf %" PRIu64,
                             ev->seal_seq, ev->seal_leaf);
        memcpy(path, f[4], fl[4]);
        ldg_claim_digest(d, ev->signed_part, ev->signed_len);
        if (memcmp(d, ev->digest, 32) != 0)
            return seg_vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                             "claim digest does not match its stamp");
        if (ldg_seal_verify_inclusion(d, ev->seal_leaf, seal.count,
                                      (const uint8_t(*)[32])path, fl[4] / 32,
                                      seal.root) != 0)
            return seg_vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                             "its claim is not in seal %" PRIu64, ev->seal_seq);
        if (fl[3] != s->proven_seal_len ||
            memcmp(f[3], s->proven_seal_rec, fl[3]) != 0 ||
            memcmp(k->pub, s->proven_seal_pub, 32) != 0) {
            /* an epoch seal: its epoch signature, by proven_epoch */
            if (seal.ext == NULL && ldg_seal_verify(&seal, k->pub) != 0)
                return seg_vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                                 "seal %" PRIu64 " does not verify with key %s",
                                 ev->seal_seq, k->id);
            s->r->info.seal_checks++;
            memcpy(s->proven_seal_rec, f[3], fl[3]);
            s->proven_seal_len = fl[3];
            memcpy(s->proven_seal_pub, k->pub, 32);
        }
        if ((rc = proven_epoch(s, ev, k, &seal)) != 0)
            return rc;
    } else if (ldg_event_verify_sig(ev, k->pub) != 0) {
        return seg_vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                         "signature does not verify with key %s", ev->actor);
    }
    {
        uint8_t root[32];
        if (ldg_body_rec_root(NULL, f[0], fl[0], s->body_max, root) < 0 ||
            memcmp(root, ev->body_root, 32) != 0)
            return seg_vfail(s, LDG_SEGCHK_BODIES, ev->seq,
                             "body does not match its commitment in the entry");
    }
    if ((rc = apply_body(s, ev, f[0], fl[0])) != 0)
        return rc;
    if (after)
        s->r->info.after++;
    else
        s->r->info.prior++;
    return 0;
}
