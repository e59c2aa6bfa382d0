/*
 * verify.c — ledger verify: re-check everything from the stored bytes.
 *
 * Two passes over one read snapshot.
 *
 * Pass 1, sequential, over the whole log (cheap: ~3 µs an event): each
 * entry decodes canonically; its seq is its key; prev is the leaf hash of
 * the entry before; ts never goes back; the stored Merkle hashes equal the
 * ones recomputed from the entries (a compact range of the right edge);
 * every stored checkpoint names a size the log has, its root is the tree
 * at that size, and its signature verifies with the log key; the key
 * history (genesis, key.added, key.revoked, with their bodies and
 * signatures checked on the spot) and the set of erased bodies are
 * collected; the root at the last verified size must equal the one saved
 * then, so a change to an already verified part cannot go unnoticed.
 *
 * Pass 2, on every core: for events at or after the starting point (the
 * saved position, or 0 with --full), the signature with a key that was
 * added before and not revoked before the event, and the index entries;
 * for every event, the body against its commitment (or a body.erased for
 * it). Bodies are checked from 0 in every mode because nothing else would
 * see a stored body swapped with another or deleted after its event was
 * verified, and a body costs a fraction of a signature.
 *
 * The passes overlap: pass 1 runs on the calling thread and publishes how
 * far it has got (p1_done); pass 2 workers take chunks below that mark, so
 * the key history they need is already collected, and decode entries
 * without the canonical re-pack that pass 1 already did on the same bytes.
 * Whether a body may be missing, or must be missing, depends on body.erased
 * events that come later in the log, so pass 2 notes missing bodies and
 * those two checks run once both passes are done.
 *
 * The first bad sequence number over both passes is reported with what is
 * wrong with it.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ledger/crypto_int.h"
#include "ledger/ledger_int.h"
#include "ledger/tlog_int.h"

#define CHUNK 512
/* pass 1 drops the mapped pages every 2^18 events (see pass1) */
#define VERIFY_TRIM_MASK ((UINT64_C(1) << 18) - 1)

/*
 * Sequential reads. Pass 1 and each pass 2 chunk read entries, bodies and
 * stored tree hashes in increasing key order; a cursor stepped with NEXT
 * reads the next key from the page it is on, where a get descends from
 * the root every time (that descent was the largest cost of verify). A
 * reader answers exactly what ldg_kv_get would for the key asked: the
 * value of that key, or LDG_ENOTFOUND. It steps forward while the
 * cursor's key is below the one asked (a few steps at most, else it
 * seeks), and on any cursor error it asks ldg_kv_get itself, so damage is
 * reported as the get reports it.
 */
struct seqrd {
    struct ldg_txn *t;
    ldg_dbi dbi;
    struct ldg_cursor *c; /* NULL: gets only */
    int at;               /* the cursor is on key k (value v) */
    struct ldg_val k, v;
};

static void
seqrd_open(struct seqrd *r, struct ldg_txn *t, ldg_dbi dbi)
{
    memset(r, 0, sizeof *r);
    r->t = t;
    r->dbi = dbi;
    if (ldg_cursor_open(t, dbi, &r->c) < 0)
        r->c = NULL;
}

static void
seqrd_close(struct seqrd *r)
{
    ldg_cursor_close(r->c);
    r->c = NULL;
    r->at = 0;
}

/* LMDB's default order: bytewise, a prefix first. */
static int
key_cmp(const struct ldg_val *a, const uint8_t *b, size_t bn)
{
    size_t n = a->len < bn ? a->len : bn;
    int c = n ? memcmp(a->data, b, n) : 0;
    return c ? c : (a->len > bn) - (a->len < bn);
}

static int
seqrd_get(struct seqrd *r, const uint8_t *key, size_t klen, struct ldg_val *v)
{
    int rc, c = -1;

    if (r->c != NULL && r->at) {
        for (int step = 0; step < 8; step++) {
            if ((c = key_cmp(&r->k, key, klen)) >= 0)
                break;
            rc = ldg_cursor_get(r->c, LDG_NEXT, NULL, 0, &r->k, &r->v);
            if (rc == LDG_ENOTFOUND) {
                r->at = 0;
                return LDG_ENOTFOUND; /* nothing at or after key */
            }
            if (rc < 0) {
                r->at = 0;
                return ldg_kv_get(r->t, r->dbi, key, klen, v);
            }
        }
    }
    if (r->c != NULL && !(r->at && c >= 0)) {
        rc = ldg_cursor_get(r->c, LDG_SET_RANGE, key, klen, &r->k, &r->v);
        r->at = rc == 0;
        if (rc == LDG_ENOTFOUND)
            return rc;
        if (rc < 0)
            return ldg_kv_get(r->t, r->dbi, key, klen, v);
        c = key_cmp(&r->k, key, klen);
    }
    if (r->c == NULL)
        return ldg_kv_get(r->t, r->dbi, key, klen, v);
    if (c != 0)
        return LDG_ENOTFOUND;
    *v = r->v;
    return 0;
}

static int
seqrd_seq(struct seqrd *r, uint64_t seq, struct ldg_val *v)
{
    uint8_t k[8];
    ldg_be64(k, seq);
    return seqrd_get(r, k, 8, v);
}

struct vkey {
    char key_id[LDG_KEYID_LEN + 1];
    char name[LDG_NAME_MAX + 1];
    uint8_t pub[32];
    uint64_t added, revoked;
    uint32_t roles;  /* ldg_roles_mask of its key.added; the log key: all */
    uint64_t sealed; /* format 2: events its seals covered so far (pass 1) */
};

/* A seal pass 1 has seen opened and not yet all of its events (format 2). */
struct vseal {
    uint64_t seal_seq;
    struct ldg_seal rec;
    struct ldg_seal_acc acc;
};

struct vstate {
    uint64_t with_id; /* events with an id (idx.id entries) */
    struct ldg_ledger *l;
    struct vkey *keys;
    size_t nkeys, capkeys;
    uint64_t *erased; /* sorted targets of body.erased */
    size_t nerased, caperased;
    uint64_t bad_seq; /* UINT64_MAX while none */
    char what[512];
    pthread_mutex_t mu; /* guards keys, missing, bad_seq, p1_*, next, done */
    pthread_cond_t p1_cv;
    uint64_t p1_done; /* events pass 1 has passed */
    int p1_finished;
    uint64_t *missing; /* seqs pass 2 found without a stored body */
    size_t nmissing, capmissing;
    /* pass 2 */
    uint64_t from, to, next;
    uint64_t done;
    void (*progress)(void *, uint64_t, uint64_t);
    void *progress_ctx;
    int io_rc;
    /* format 2 (pass 1 only) */
    struct vseal *open;
    size_t nopen, capopen;
    uint64_t nseals; /* seals opened */
    /* verify --full from 0: the index keys the entries call for, as a
     * keyed multiset hash per index (a random key per run), compared
     * with the same hash over a walk of each index (check_indexes_fast) */
    int idx_fast;
    uint8_t idx_key[6][16];
    uint64_t idx_sum[6][2]; /* mod 2^128: [0] low, [1] high; under mu */
    /* the walks of the six indexes, taken by pass 2 workers whenever
     * pass 1 has no chunk for them yet (under mu) */
    struct vwalk {
        int state; /* 0 to do, 1 taken, 2 done */
        int finding;
        uint64_t n, sum[2];
    } walks[6];
    int walk_next;
};

static void bad(struct vstate *vs, uint64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
bad(struct vstate *vs, uint64_t seq, const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&vs->mu);
    if (seq < vs->bad_seq) {
        int n;
        vs->bad_seq = seq;
        n = snprintf(vs->what, sizeof vs->what,
                     "event %llu: ", (unsigned long long)seq);
        va_start(ap, fmt);
        vsnprintf(vs->what + n, sizeof vs->what - (size_t)n, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&vs->mu);
}

static const struct vkey *
find_key(const struct vstate *vs, const char *id)
{
    for (size_t i = 0; i < vs->nkeys; i++)
        if (strcmp(vs->keys[i].key_id, id) == 0)
            return &vs->keys[i];
    return NULL;
}

/* A copy of key id's state, taken under the lock (pass 1 may be adding
 * keys meanwhile). Returns 0 if the key is unknown. */
static int
key_copy(struct vstate *vs, const char *id, struct vkey *out)
{
    const struct vkey *k;
    pthread_mutex_lock(&vs->mu);
    k = find_key(vs, id);
    if (k != NULL)
        *out = *k;
    pthread_mutex_unlock(&vs->mu);
    return k != NULL;
}

/* With mu held (pass 2 reads the array under it). */
static int
add_key(struct vstate *vs, const char *id, const uint8_t pub[32], uint64_t seq)
{
    if (vs->nkeys == vs->capkeys) {
        size_t cap = vs->capkeys ? vs->capkeys * 2 : 16;
        struct vkey *k = realloc(vs->keys, cap * sizeof *k);
        if (k == NULL)
            return LDG_ENOMEM;
        vs->keys = k;
        vs->capkeys = cap;
    }
    memset(&vs->keys[vs->nkeys], 0, sizeof vs->keys[0]);
    memcpy(vs->keys[vs->nkeys].key_id, id, LDG_KEYID_LEN);
    memcpy(vs->keys[vs->nkeys].pub, pub, 32);
    vs->keys[vs->nkeys].added = seq;
    vs->keys[vs->nkeys].revoked = UINT64_MAX;
    vs->keys[vs->nkeys].roles = UINT32_MAX;
    vs->nkeys++;
    return 0;
}

static int
is_erased(const struct vstate *vs, uint64_t seq)
{
    size_t lo = 0, hi = vs->nerased;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (vs->erased[mid] == seq)
            return 1;
        if (vs->erased[mid] < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static const char MSG_NOBODY[] = "body is missing and no body.erased names it";
static const char MSG_STILL[] =
    "body was erased by a body.erased event but is still stored";

/* Checks the body of ev against its commitment. Returns 0, or 1 if bad
 * (reported). With defer (pass 2), the erasure set is not complete yet:
 * a missing body is noted for later and a present one is only checked
 * against its commitment. */
static int
check_body_val(struct vstate *vs, const struct ldg_event *ev, int defer, int rc,
               struct ldg_val v)
{
    uint8_t root[32];

    if (rc == LDG_ENOTFOUND && defer) {
        pthread_mutex_lock(&vs->mu);
        if (vs->nmissing == vs->capmissing) {
            size_t cap = vs->capmissing ? vs->capmissing * 2 : 64;
            uint64_t *m = realloc(vs->missing, cap * sizeof *m);
            if (m == NULL) {
                vs->io_rc = LDG_ENOMEM;
                pthread_mutex_unlock(&vs->mu);
                return 1;
            }
            vs->missing = m;
            vs->capmissing = cap;
        }
        vs->missing[vs->nmissing++] = ev->seq;
        pthread_mutex_unlock(&vs->mu);
        return 0;
    }
    if (rc == LDG_ENOTFOUND) {
        if (is_erased(vs, ev->seq))
            return 0;
        bad(vs, ev->seq, MSG_NOBODY);
        return 1;
    }
    if (rc < 0) {
        bad(vs, ev->seq, "cannot read body: %s", ldg_strerror(rc));
        return 1;
    }
    if (!defer && is_erased(vs, ev->seq)) {
        bad(vs, ev->seq, MSG_STILL);
        return 1;
    }
    rc = ldg_body_rec_root(v.data, v.len, vs->l->opts.body_max_bytes, root);
    if (rc < 0) {
        bad(vs, ev->seq, "stored body does not decode (%s)", ldg_strerror(rc));
        return 1;
    }
    if (memcmp(root, ev->body_root, 32) != 0) {
        bad(vs, ev->seq, "body does not match its commitment in the entry");
        return 1;
    }
    return 0;
}

/* check_body_val with the body read here (rc and v: what the get of
 * ev's body gave). */
static int
check_body(struct vstate *vs, struct ldg_txn *t, const struct ldg_event *ev,
           int defer)
{
    struct ldg_val v = {NULL, 0};
    uint8_t k[8];
    int rc;

    ldg_be64(k, ev->seq);
    rc = ldg_kv_get(t, ldg_store_core_dbi(ldg_txn_store(t), LDG_DB_BODIES), k,
                    8, &v);
    return check_body_val(vs, ev, defer, rc, v);
}

static int
check_sig(struct vstate *vs, const struct ldg_event *ev)
{
    struct vkey kc;
    const struct vkey *k = key_copy(vs, ev->actor, &kc) ? &kc : NULL;
    if (k == NULL ||
        (k->added >= ev->seq && !(ev->seq == 0 && k->added == 0))) {
        bad(vs, ev->seq,
            "signed by key %s, which the log had not added "
            "before this event",
            ev->actor);
        return 1;
    }
    if (k->revoked < ev->seq) {
        bad(vs, ev->seq, "signed by key %s after it was revoked at event %llu",
            ev->actor, (unsigned long long)k->revoked);
        return 1;
    }
    if (ev->sealed) {
        /* format 2: the key vouches through the seal (pass 1 checks it,
         * one signature a seal); the entry must bind its claim */
        uint8_t d[32];
        ldg_claim_digest(d, ev->signed_part, ev->signed_len);
        if (memcmp(d, ev->digest, 32) != 0) {
            bad(vs, ev->seq, "claim digest does not match its stamp");
            return 1;
        }
    } else if (ldg_event_verify_sig(ev, k->pub) != 0) {
        bad(vs, ev->seq, "signature does not verify with key %s", ev->actor);
        return 1;
    }
    if (k->added != 0 && !ldg_roles_mask_allows(k->roles, ev->type)) {
        bad(vs, ev->seq,
            "%s %s by key %s (%s), whose roles (key.added at event "
            "%llu) do not allow it",
            ev->type, ev->sealed ? "sealed" : "signed", ev->actor, k->name,
            (unsigned long long)k->added);
        return 1;
    }
    return 0;
}

/* Format 2, pass 1, in seq order: ev's place in its seal. Opens a seal
 * at its first event (the record must be stored, by the claim's actor,
 * with the key's running count as first), continues an open one at the
 * next leaf, and when a seal has all its events checks its root and its
 * one signature. Returns 1 on a finding. */
static int
seal_step(struct vstate *vs, struct ldg_txn *t, const struct ldg_event *ev)
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
                bad(vs, ev->seq,
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
            bad(vs, ev->seq,
                "opens a seal but no seal record is stored for it (seal "
                "deleted)");
            return 1;
        }
        if (rc < 0) {
            bad(vs, ev->seq, "its seal record cannot be read (%s)",
                ldg_strerror(rc));
            return 1;
        }
        if (vs->nopen == vs->capopen) {
            size_t cap = vs->capopen ? vs->capopen * 2 : 8;
            struct vseal *ns = realloc(vs->open, cap * sizeof *ns);
            if (ns == NULL)
                return -1;
            vs->open = ns;
            vs->capopen = cap;
        }
        o = &vs->open[vs->nopen];
        o->seal_seq = ev->seq;
        if (ldg_seal_record_decode(v.data, v.len, &o->rec) < 0) {
            bad(vs, ev->seq, "its seal record does not decode");
            return 1;
        }
        if (strcmp(o->rec.key_id, ev->actor) != 0) {
            bad(vs, ev->seq, "actor %s but its seal is by %s", ev->actor,
                o->rec.key_id);
            return 1;
        }
        if (strcmp(o->rec.origin, l->origin) != 0) {
            bad(vs, ev->seq, "its seal names origin '%s', not the log's",
                o->rec.origin);
            return 1;
        }
        k = (struct vkey *)(uintptr_t)find_key(vs, ev->actor);
        if (k == NULL) {
            bad(vs, ev->seq, "sealed by key %s, which the log had not added",
                ev->actor);
            return 1;
        }
        if (o->rec.first != k->sealed) {
            bad(vs, ev->seq,
                "its seal's first is %llu but key %s had %llu events sealed "
                "before it (a seal replayed, dropped or reordered)",
                (unsigned long long)o->rec.first, ev->actor,
                (unsigned long long)k->sealed);
            return 1;
        }
        ldg_seal_acc_init(&o->acc);
        vs->nopen++;
        vs->nseals++;
    } else if (o == NULL) {
        bad(vs, ev->seq,
            "continues seal %llu, which is not open (never opened or "
            "already complete)",
            (unsigned long long)ev->seal_seq);
        return 1;
    } else if (o->acc.count != ev->seal_leaf) {
        bad(vs, ev->seq, "is leaf %llu of seal %llu, which expects leaf %llu",
            (unsigned long long)ev->seal_leaf, (unsigned long long)ev->seal_seq,
            (unsigned long long)o->acc.count);
        return 1;
    } else if (strcmp(o->rec.key_id, ev->actor) != 0) {
        bad(vs, ev->seq, "actor %s but its seal is by %s", ev->actor,
            o->rec.key_id);
        return 1;
    }
    ldg_seal_acc_add(&o->acc, ev->digest);
    if (o->acc.count < o->rec.count)
        return 0;
    /* complete: the root, then the one signature */
    {
        uint8_t root[32];
        ldg_seal_acc_root(&o->acc, root);
        k = (struct vkey *)(uintptr_t)find_key(vs, o->rec.key_id);
        if (memcmp(root, o->rec.root, 32) != 0) {
            bad(vs, o->seal_seq,
                "seal of %llu events by key %s: the claim digests of its "
                "events do not give the root it signed (an event altered, "
                "moved or swapped)",
                (unsigned long long)o->rec.count, o->rec.key_id);
            return 1;
        }
        if (k == NULL || ldg_seal_verify(&o->rec, k->pub) != 0) {
            bad(vs, o->seal_seq,
                "seal of %llu events: signature does not verify with key %s",
                (unsigned long long)o->rec.count, o->rec.key_id);
            return 1;
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
static int
seals_closed(struct vstate *vs, uint64_t size, const char *what)
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
    bad(vs, o->seal_seq,
        "seal of %llu events has only %llu of them before %s %llu (a seal "
        "straddles it, or events were deleted)",
        (unsigned long long)o->rec.count, (unsigned long long)o->acc.count,
        what, (unsigned long long)size);
    return 1;
}

/* Key history and erasures from one event (pass 1). */
static int
collect(struct vstate *vs, struct ldg_txn *t, const struct ldg_event *ev)
{
    struct ldg_ledger *l = vs->l;
    json_t *body = NULL;
    int rc = 0, is_key = strncmp(ev->type, "key.", 4) == 0;
    int is_gen = strcmp(ev->type, "ledger.genesis") == 0;

    if ((ev->seq == 0) != is_gen) {
        bad(vs, ev->seq,
            is_gen ? "ledger.genesis after event 0"
                   : "event 0 is not ledger.genesis");
        return 1;
    }
    if (!is_key && !is_gen && strcmp(ev->type, "body.erased") != 0)
        return 0;
    if (check_body(vs, t, ev, 0))
        return 1;
    rc = ldg_body_get(t, ev->seq, &body);
    if (rc < 0) {
        bad(vs, ev->seq, "cannot read body: %s", ldg_strerror(rc));
        return 1;
    }
    rc = 0;
    if (is_gen) {
        const char *hex = json_string_value(json_object_get(body, "log_key"));
        const char *org = json_string_value(json_object_get(body, "origin"));
        uint8_t pub[32];
        if (hex == NULL || ldg_unhex(pub, 32, hex) < 0 ||
            memcmp(pub, l->log_key->pub, 32) != 0) {
            bad(vs, 0, "genesis names another log key than the ledger's");
            rc = 1;
        } else if (org == NULL || strcmp(org, l->origin) != 0) {
            bad(vs, 0, "genesis names another origin than the ledger's");
            rc = 1;
        } else if (strcmp(ev->actor, l->log_key->key_id) != 0) {
            bad(vs, 0, "genesis is not signed by the log key");
            rc = 1;
        } else {
            pthread_mutex_lock(&vs->mu);
            rc = add_key(vs, l->log_key->key_id, pub, 0) < 0 ? -1 : 0;
            if (rc == 0)
                snprintf(vs->keys[vs->nkeys - 1].name, sizeof vs->keys[0].name,
                         "%s", LDG_LOG_KEY_NAME);
            pthread_mutex_unlock(&vs->mu);
            if (rc == 0 && !ev->sealed && ldg_event_verify_sig(ev, pub) != 0) {
                bad(vs, 0, "signature does not verify with the log key");
                rc = 1;
            }
        }
    } else if (is_key) {
        const char *id = json_string_value(json_object_get(body, "key_id"));
        if (strcmp(ev->actor, l->log_key->key_id) != 0) {
            bad(vs, ev->seq, "%s is not signed by the log key", ev->type);
            rc = 1;
        } else if (check_sig(vs, ev)) {
            rc = 1;
        } else if (strcmp(ev->type, "key.added") == 0) {
            const char *hex =
                json_string_value(json_object_get(body, "public_key"));
            uint8_t pub[32];
            char want[LDG_KEYID_LEN + 1];
            if (hex == NULL || id == NULL || ldg_unhex(pub, 32, hex) < 0) {
                bad(vs, ev->seq, "key.added without a valid public key");
                rc = 1;
            } else if (ldg_key_id(want, pub), strcmp(want, id) != 0) {
                bad(vs, ev->seq,
                    "key.added: key_id %s does not match the "
                    "public key (%s)",
                    id, want);
                rc = 1;
            } else if (find_key(vs, id) != NULL) {
                bad(vs, ev->seq, "key %s added twice", id);
                rc = 1;
            } else {
                pthread_mutex_lock(&vs->mu);
                const char *nm =
                    json_string_value(json_object_get(body, "actor"));
                rc = add_key(vs, id, pub, ev->seq) < 0 ? -1 : 0;
                if (rc == 0) {
                    snprintf(vs->keys[vs->nkeys - 1].name,
                             sizeof vs->keys[0].name, "%s", nm ? nm : "");
                    vs->keys[vs->nkeys - 1].roles =
                        ldg_roles_mask(json_object_get(body, "roles"));
                }
                pthread_mutex_unlock(&vs->mu);
            }
        } else {
            struct vkey *k =
                (struct vkey *)(uintptr_t)(id ? find_key(vs, id) : NULL);
            if (k == NULL) {
                bad(vs, ev->seq, "key.revoked names unknown key %s",
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
            bad(vs, ev->seq,
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
                    return -1;
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

/* The right edge of the tree: stack of complete subtree hashes, largest
 * first. Adding leaf n merges while the top has the same level. */
struct edge {
    uint8_t h[64][32];
    int level[64];
    int n;
    struct seqrd rd[64]; /* stored hashes, a reader per level */
    int rd_open[64];
};

/* The stored hash of tree node (level, index), as ldg_tree_stored_hash
 * reads it, through the level's sequential reader (a level's nodes are
 * asked for in increasing order). */
static int
edge_stored(struct edge *e, struct ldg_txn *t, int level, uint64_t index,
            uint8_t out[32])
{
    struct ldg_val v;
    uint8_t k[9];
    int rc;

    if (!e->rd_open[level]) {
        seqrd_open(&e->rd[level], t,
                   ldg_store_core_dbi(ldg_txn_store(t), LDG_DB_TREE));
        e->rd_open[level] = 1;
    }
    k[0] = (uint8_t)level;
    ldg_be64(k + 1, index);
    if ((rc = seqrd_get(&e->rd[level], k, 9, &v)) < 0)
        return rc;
    if (v.len != 32)
        return LDG_ECORRUPT;
    memcpy(out, v.data, 32);
    return 0;
}

/* Adds a leaf and compares each completed subtree with the stored hash.
 * Returns 0 or the level whose stored hash differs (+1), -err on I/O. */
static int
edge_add(struct edge *e, struct ldg_txn *t, uint64_t seq,
         const uint8_t leaf[32])
{
    uint8_t stored[32];
    uint64_t idx = seq;
    int rc;

    memcpy(e->h[e->n], leaf, 32);
    e->level[e->n] = 0;
    e->n++;
    rc = edge_stored(e, t, 0, seq, stored);
    if (rc < 0)
        return rc == LDG_ENOTFOUND ? 1 : rc;
    if (memcmp(stored, leaf, 32) != 0)
        return 1;
    while (e->n >= 2 && e->level[e->n - 1] == e->level[e->n - 2]) {
        int lv = e->level[e->n - 1] + 1;
        ldg_tlog_node_hash(e->h[e->n - 2], e->h[e->n - 2], e->h[e->n - 1]);
        e->level[e->n - 2] = lv;
        e->n--;
        idx >>= 1;
        rc = edge_stored(e, t, lv, idx, stored);
        if (rc < 0)
            return rc == LDG_ENOTFOUND ? lv + 1 : rc;
        if (memcmp(stored, e->h[e->n - 1], 32) != 0)
            return lv + 1;
    }
    return 0;
}

static void
edge_close(struct edge *e)
{
    for (int i = 0; i < 64; i++)
        if (e->rd_open[i])
            seqrd_close(&e->rd[i]);
}

static void
edge_root(const struct edge *e, uint8_t root[32])
{
    if (e->n == 0) {
        ldg_sha256(root, "", 0);
        return;
    }
    memcpy(root, e->h[e->n - 1], 32);
    for (int i = e->n - 2; i >= 0; i--)
        ldg_tlog_node_hash(root, e->h[i], root);
}

/* Verifies the stored checkpoint note of size against our root. */
static int
check_checkpoint(struct vstate *vs, const char *note, size_t len, uint64_t size,
                 const uint8_t root[32])
{
    struct ldg_ledger *l = vs->l;
    char origin[LDG_ORIGIN_MAX + 1];
    uint64_t csize;
    uint8_t croot[32];
    size_t tlen;

    if (ldg_note_verify(note, len, l->origin, l->log_key->pub, &tlen) != 0) {
        bad(vs, size - 1,
            "checkpoint of size %llu: signature does not "
            "verify with the log key",
            (unsigned long long)size);
        return 1;
    }
    if (ldg_checkpoint_parse(note, tlen, origin, sizeof origin, &csize,
                             croot) != 0 ||
        csize != size || strcmp(origin, l->origin) != 0) {
        bad(vs, size - 1, "checkpoint of size %llu is malformed",
            (unsigned long long)size);
        return 1;
    }
    if (memcmp(croot, root, 32) != 0) {
        bad(vs, size - 1,
            "checkpoint of size %llu: root differs from the "
            "tree of the entries",
            (unsigned long long)size);
        return 1;
    }
    return 0;
}

/* Pass 1 has passed every event below done; finished: it will not go on. */
static void
p1_publish(struct vstate *vs, uint64_t done, int finished)
{
    pthread_mutex_lock(&vs->mu);
    vs->p1_done = done;
    vs->p1_finished = finished;
    pthread_cond_broadcast(&vs->p1_cv);
    pthread_mutex_unlock(&vs->mu);
}

static int
pass1(struct vstate *vs, struct ldg_txn *t, uint64_t size, uint64_t saved_size,
      const uint8_t saved_root[32], uint64_t *ncheck, uint8_t final_root[32],
      uint64_t *with_run)
{
    struct ldg_ledger *l = vs->l;
    struct edge *e = calloc(1, sizeof *e);
    struct seqrd ent;
    struct ldg_cursor *cc = NULL;
    struct ldg_val ck, cv;
    uint8_t prev[32] = {0};
    uint64_t last_ts = 0, cksize = UINT64_MAX, seq = 0, last_ck = 0;
    int rc = 0, crc, stop = 0;

    if (e == NULL) {
        p1_publish(vs, 0, 1);
        return LDG_ENOMEM;
    }
    *with_run = 0;
    seqrd_open(&ent, t, ldg_store_core_dbi(l->store, LDG_DB_ENTRIES));
    rc = ldg_cursor_open(t, ldg_store_core_dbi(l->store, LDG_DB_CHECKPOINTS),
                         &cc);
    if (rc < 0)
        goto out;
    crc = ldg_cursor_get(cc, LDG_FIRST, NULL, 0, &ck, &cv);
    if (crc == 0 && ck.len == 8)
        cksize = ldg_rd_be64(ck.data);
    /* Pass 1 goes on whatever pass 2 finds: the erasures it collects decide
     * pass 2's deferred body checks. It stops at its own first finding. */
    for (seq = 0; seq < size; seq++) {
        struct ldg_event ev;
        struct ldg_val ev_v;
        uint8_t root[32];
        int tr;

        rc = seqrd_seq(&ent, seq, &ev_v);
        if (rc == 0)
            rc = ldg_event_decode(ev_v.data, ev_v.len, &ev);
        if (rc == LDG_ENOTFOUND) {
            bad(vs, seq,
                "missing: the log skips from %llu to a later "
                "number (deleted event)",
                (unsigned long long)(seq ? seq - 1 : 0));
            rc = 0;
            break;
        }
        if (rc < 0) {
            bad(vs, seq, "entry does not decode as a canonical entry (%s)",
                ldg_strerror(rc));
            rc = 0;
            break;
        }
        rc = 0;
        if (ev.seq != seq) {
            bad(vs, seq,
                "entry carries sequence number %llu (moved, "
                "swapped or duplicated)",
                (unsigned long long)ev.seq);
            break;
        }
        if (memcmp(ev.prev, prev, 32) != 0) {
            bad(vs, seq,
                "hash chain broken: prev is not the leaf hash of "
                "event %llu",
                (unsigned long long)(seq ? seq - 1 : 0));
            break;
        }
        if (seq > 0 && ev.ts_ns <= last_ts) {
            bad(vs, seq, "time goes backwards (%llu after %llu)",
                (unsigned long long)ev.ts_ns, (unsigned long long)last_ts);
            break;
        }
        if (ev.has_parent && ev.parent >= seq) {
            bad(vs, seq, "parent %llu is not an earlier event",
                (unsigned long long)ev.parent);
            break;
        }
        last_ts = ev.ts_ns;
        memcpy(prev, ev.leaf, 32);
        if (ev.run[0])
            (*with_run)++;
        if (ev.id_len > 0)
            vs->with_id++;
        tr = edge_add(e, t, seq, ev.leaf);
        if (tr == LDG_ECORRUPT || tr == LDG_EBADINPUT) {
            /* LMDB found a page it cannot follow: a finding, not an
             * error of this run */
            bad(vs, seq,
                "storage corrupt: the stored Merkle tree at this event "
                "cannot be read (%s)",
                ldg_strerror(tr));
            break;
        }
        if (tr < 0) {
            rc = tr;
            break;
        }
        if (tr > 0) {
            /* Say why if we can: a re-signed or altered entry shows up
             * first as a leaf that differs from the stored tree. */
            if (tr > 1 || !check_sig(vs, &ev))
                bad(vs, seq,
                    "stored Merkle hash at level %d differs from "
                    "the entries (entry or tree altered)",
                    tr - 1);
            break;
        }
        if ((rc = collect(vs, t, &ev)) != 0) {
            if (rc > 0)
                rc = 0;
            break;
        }
        if (ev.sealed != (l->format >= 2)) {
            bad(vs, seq, "a format %d entry in a format %d ledger",
                ev.sealed ? 2 : 1, l->format);
            break;
        }
        if (ev.sealed && (rc = seal_step(vs, t, &ev)) != 0) {
            rc = rc > 0 ? 0 : LDG_ENOMEM;
            break;
        }
        if (seq + 1 == saved_size || seq + 1 == cksize) {
            edge_root(e, root);
            if (seq + 1 == saved_size && memcmp(root, saved_root, 32) != 0) {
                bad(vs, seq,
                    "the log changed after it was verified: the "
                    "tree of its first %llu events has another "
                    "root now",
                    (unsigned long long)saved_size);
                break;
            }
            while (seq + 1 == cksize) {
                (*ncheck)++;
                if (seals_closed(vs, cksize, "the checkpoint of size")) {
                    stop = 1;
                    break;
                }
                if (check_checkpoint(vs, cv.data, cv.len, cksize, root)) {
                    stop = 1;
                    break;
                }
                last_ck = cksize;
                crc = ldg_cursor_get(cc, LDG_NEXT, NULL, 0, &ck, &cv);
                cksize = (crc == 0 && ck.len == 8) ? ldg_rd_be64(ck.data)
                                                   : UINT64_MAX;
            }
            if (stop)
                break;
        }
        /* Dropping the mapped pages (for every thread: the map is the
         * process's) now and then keeps the resident size down. Not
         * often: every drop makes both passes fault their pages in again
         * (with a TLB flush on every core), which cost verify --full more
         * than half of its time when it came every 16,384 events of each
         * pass (1M events: 17 s of CPU against 6.6 s without). */
        if ((seq & VERIFY_TRIM_MASK) == VERIFY_TRIM_MASK)
            ldg_store_trim(l->store);
        if (((seq + 1) & (CHUNK - 1)) == 0)
            p1_publish(vs, seq + 1, 0);
    }
    /* A seal still open at the end needs no finding of its own: the log
     * then has no checkpoint at its size (said below), as every
     * checkpoint is at a seal boundary (checked above). */
    /* Every commit stores a checkpoint of its new size: the newest is
     * part of the log (checkpoint, proof and export stand on it). */
    if (rc == 0 && seq == size && size > 0 && last_ck != size)
        bad(vs, size - 1,
            "no signed checkpoint at the log's size %llu (the newest "
            "stored is for %llu): the latest checkpoint was deleted",
            (unsigned long long)size, (unsigned long long)last_ck);
    if (rc == 0 && seq == size && cksize != UINT64_MAX && cksize > size)
        bad(vs, size,
            "a checkpoint was signed for %llu events but the log has %llu: "
            "the tail from here on was truncated",
            (unsigned long long)cksize, (unsigned long long)size);
    if (rc == 0 && seq == size && saved_size > size)
        bad(vs, size,
            "the log has %llu events but %llu were verified before: the "
            "tail from here on was truncated",
            (unsigned long long)size, (unsigned long long)saved_size);
    edge_root(e, final_root);
out:
    /* Events before seq passed; pass 2 may take all of them (none after
     * an I/O error: the caller gives up). */
    p1_publish(vs, rc < 0 ? 0 : seq, 1);
    ldg_cursor_close(cc);
    seqrd_close(&ent);
    if (e != NULL)
        edge_close(e);
    free(e);
    if (vs->nerased > 0)
        qsort(vs->erased, vs->nerased, sizeof *vs->erased, cmp_u64);
    return rc;
}

/* The slot of an index database in vstate's idx_* arrays (the order of
 * idx[] below). */
static int
idx_slot(enum ldg_core_db db)
{
    switch (db) {
    case LDG_DB_IDX_TYPE:
        return 0;
    case LDG_DB_IDX_SUBJECT:
        return 1;
    case LDG_DB_IDX_RUN:
        return 2;
    case LDG_DB_IDX_ACTOR:
        return 3;
    case LDG_DB_IDX_TIME:
        return 4;
    case LDG_DB_IDX_ID:
        return 5;
    default:
        return -1;
    }
}

static void
sum_add(uint64_t sum[2], const uint8_t h[16])
{
    uint64_t lo = 0, hi = 0;
    for (int i = 0; i < 8; i++) {
        lo = lo << 8 | h[i];
        hi = hi << 8 | h[8 + i];
    }
    sum[0] += lo;
    sum[1] += hi + (sum[0] < lo);
}

struct idx_acc {
    const struct vstate *vs;
    uint64_t sum[6][2];
};

static void
idx_acc_key(void *ctx, enum ldg_core_db db, const uint8_t *key, size_t n)
{
    struct idx_acc *a = ctx;
    int i = idx_slot(db);
    uint8_t h[16];
    if (i < 0)
        return;
    ldg_shorthash128(h, a->vs->idx_key[i], key, n);
    sum_add(a->sum[i], h);
}

static void walk_one(struct vstate *vs, struct ldg_txn *t, int i,
                     struct vwalk *w);

static void *
pass2_worker(void *arg)
{
    struct vstate *vs = arg;
    struct ldg_txn *t = NULL;
    struct seqrd ent, body;
    struct idx_acc acc;
    int rc = ldg_txn_begin(vs->l, LDG_TXN_READ, &t);

    if (rc < 0) {
        pthread_mutex_lock(&vs->mu);
        vs->io_rc = rc;
        pthread_mutex_unlock(&vs->mu);
        return NULL;
    }
    seqrd_open(&ent, t, ldg_store_core_dbi(vs->l->store, LDG_DB_ENTRIES));
    seqrd_open(&body, t, ldg_store_core_dbi(vs->l->store, LDG_DB_BODIES));
    acc.vs = vs;
    for (;;) {
        uint64_t lo, hi, limit;
        int walk = -1;
        pthread_mutex_lock(&vs->mu);
        for (;;) {
            lo = vs->next;
            hi = lo + CHUNK < vs->to ? lo + CHUNK : vs->to;
            if (lo >= vs->to || lo >= vs->bad_seq || vs->io_rc < 0 ||
                (vs->p1_finished && lo >= vs->p1_done)) {
                hi = lo; /* nothing left that pass 1 let through */
                break;
            }
            if (hi <= vs->p1_done)
                break;
            if (vs->p1_finished) {
                hi = vs->p1_done;
                break;
            }
            /* waiting for pass 1: walk an index meanwhile */
            if (vs->idx_fast && vs->walk_next < 6) {
                walk = vs->walk_next++;
                break;
            }
            pthread_cond_wait(&vs->p1_cv, &vs->mu);
        }
        /* no events left for pass 2: the walks no worker took yet */
        if (walk < 0 && lo >= hi && vs->idx_fast && vs->walk_next < 6)
            walk = vs->walk_next++;
        if (walk >= 0) {
            vs->walks[walk].state = 1;
            struct vwalk w;
            pthread_mutex_unlock(&vs->mu);
            walk_one(vs, t, walk, &w);
            pthread_mutex_lock(&vs->mu);
            vs->walks[walk] = w;
            pthread_mutex_unlock(&vs->mu);
            continue;
        }
        vs->next = hi;
        limit = vs->bad_seq;
        pthread_mutex_unlock(&vs->mu);
        if (lo >= hi)
            break;
        memset(acc.sum, 0, sizeof acc.sum);
        for (uint64_t seq = lo; seq < hi && seq < limit; seq++) {
            struct ldg_event ev;
            struct ldg_val v = {NULL, 0};
            /* Pass 1 decoded these very bytes canonically already (and
             * pass 2 needs no leaf hash). */
            rc = seqrd_seq(&ent, seq, &v);
            if (rc == 0)
                rc = ldg_event_decode_flags(v.data, v.len, &ev,
                                            LDG_DECODE_TRUSTED);
            if (rc < 0) {
                bad(vs, seq, "entry unreadable (%s)", ldg_strerror(rc));
                break;
            }
            rc = seqrd_seq(&body, seq, &v);
            /* Before the starting point only the body: cheap next to a
             * signature, and what a plain run would otherwise never see
             * again (bodies swapped or deleted after they were verified:
             * the entries, chain and tree do not change). */
            if (seq < vs->from) {
                if (check_body_val(vs, &ev, 1, rc, v))
                    break;
                continue;
            }
            if (check_sig(vs, &ev) || check_body_val(vs, &ev, 1, rc, v))
                break;
            if (vs->idx_fast) {
                ldg_index_keys(&ev, idx_acc_key, &acc);
            } else if (ldg_index_check(t, &ev) != 0) {
                bad(vs, seq, "an index entry for this event is missing");
                break;
            }
        }
        pthread_mutex_lock(&vs->mu);
        if (vs->idx_fast)
            for (int i = 0; i < 6; i++) {
                uint64_t lo64 = vs->idx_sum[i][0];
                vs->idx_sum[i][0] += acc.sum[i][0];
                vs->idx_sum[i][1] += acc.sum[i][1] + (vs->idx_sum[i][0] < lo64);
            }
        vs->done += hi - lo;
        if (vs->progress)
            vs->progress(vs->progress_ctx, vs->done, vs->to);
        pthread_mutex_unlock(&vs->mu);
    }
    seqrd_close(&ent);
    seqrd_close(&body);
    ldg_txn_abort(t);
    return NULL;
}

/* The body checks pass 2 left for when every body.erased is known: a
 * missing body must be erased, an erased one must be gone. Only events
 * pass 2 looked at count, as before the passes overlapped. */
/* Does a body.erased at or after from name target? Pass 1 stopped at from
 * (a bad event), so these erasures are unverified; they are only consulted
 * so that a body one of them erased is not reported as missing ahead of
 * the real first finding. Found through the type index. */
static int
erased_after(struct ldg_txn *t, uint64_t from, uint64_t target)
{
    static const char prefix[] = "body.erased"; /* ‖ 0x00 ‖ seq be64 */
    uint8_t key[sizeof prefix + 8];
    struct ldg_cursor *c = NULL;
    struct ldg_val k, v;
    int found = 0, rc;

    memcpy(key, prefix, sizeof prefix); /* with its NUL */
    ldg_be64(key + sizeof prefix, from);
    if (ldg_cursor_open(
            t, ldg_store_core_dbi(ldg_txn_store(t), LDG_DB_IDX_TYPE), &c) < 0)
        return 0;
    rc = ldg_cursor_get(c, LDG_SET_RANGE, key, sizeof key, &k, &v);
    while (!found && rc == 0 && k.len == sizeof key &&
           memcmp(k.data, key, sizeof prefix) == 0) {
        json_t *body = NULL;
        uint64_t seq = ldg_rd_be64((const uint8_t *)k.data + sizeof prefix);
        if (ldg_body_get(t, seq, &body) == 0) {
            json_t *tg = json_object_get(body, "target_seq");
            found = json_is_integer(tg) && json_integer_value(tg) >= 0 &&
                    (uint64_t)json_integer_value(tg) == target;
            json_decref(body);
        }
        rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v);
    }
    ldg_cursor_close(c);
    return found;
}

static void
deferred_body_checks(struct vstate *vs, struct ldg_txn *t)
{
    uint64_t end = vs->next < vs->to ? vs->next : vs->to;

    if (vs->nmissing > 1)
        qsort(vs->missing, vs->nmissing, sizeof *vs->missing, cmp_u64);
    for (size_t i = 0; i < vs->nmissing; i++) {
        uint64_t m = vs->missing[i];
        if (is_erased(vs, m) ||
            (vs->p1_done < vs->to && erased_after(t, vs->p1_done, m)))
            continue;
        bad(vs, m, MSG_NOBODY);
        break;
    }
    for (size_t i = 0; i < vs->nerased; i++) {
        uint64_t seq = vs->erased[i];
        struct ldg_val v;
        uint8_t k[8];
        if (seq >= end || seq >= vs->bad_seq)
            continue;
        ldg_be64(k, seq);
        if (ldg_kv_get(t, ldg_store_core_dbi(ldg_txn_store(t), LDG_DB_BODIES),
                       k, 8, &v) == 0) {
            bad(vs, seq, MSG_STILL);
            break;
        }
    }
}

/* The key registry is derived from the key events pass 1 collected (the
 * whole log's): it must say exactly what they say. */
static void
check_registry(struct vstate *vs, struct ldg_txn *t, uint64_t size)
{
    struct ldg_key_state *p = calloc(vs->nkeys ? vs->nkeys : 1, sizeof *p);
    char why[400];
    uint64_t seq = 0;

    if (p == NULL) {
        vs->io_rc = LDG_ENOMEM;
        return;
    }
    for (size_t i = 0; i < vs->nkeys; i++) {
        memcpy(p[i].key_id, vs->keys[i].key_id, sizeof p[i].key_id);
        memcpy(p[i].name, vs->keys[i].name, sizeof p[i].name);
        memcpy(p[i].pub, vs->keys[i].pub, 32);
        p[i].added_seq = vs->keys[i].added;
        p[i].revoked_seq = vs->keys[i].revoked;
    }
    if (ldg_keys_registry_check(t, p, vs->nkeys, &seq, why, sizeof why) ==
        LDG_ETAMPER)
        bad(vs, seq < size ? seq : (size ? size - 1 : 0), "%s", why);
    free(p);
}

/* Format 2: the seals database holds exactly the seals the entries open,
 * and each key's sealed count in the registry is what the seals add up
 * to. Only after pass 1 went through the whole log. */
static void
check_seals(struct vstate *vs, struct ldg_txn *t, uint64_t size)
{
    struct ldg_ledger *l = vs->l;
    uint64_t n = 0, last = size ? size - 1 : 0;

    if (!ldg_store_has_core(l->store, LDG_DB_SEALS)) {
        if (vs->nseals > 0)
            bad(vs, last, "the seals database is missing");
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
        bad(vs, at,
            "the seals database holds %llu seals, the entries open %llu (a "
            "seal record no entry opens)",
            (unsigned long long)n, (unsigned long long)vs->nseals);
        return;
    }
    for (size_t i = 0; i < vs->nkeys; i++) {
        uint64_t have = 0;
        if (ldg_key_sealed(t, vs->keys[i].key_id, &have) < 0 ||
            have != vs->keys[i].sealed) {
            bad(vs, last,
                "the key registry counts %llu sealed events of key %s (%s), "
                "the seals add up to %llu",
                (unsigned long long)have, vs->keys[i].key_id, vs->keys[i].name,
                (unsigned long long)vs->keys[i].sealed);
            return;
        }
    }
}

/* The indexes: one entry per event each (idx.run: per event with a run). */
static const struct {
    enum ldg_core_db db;
    const char *name;
} idx[] = {{LDG_DB_IDX_TYPE, "idx.type"}, {LDG_DB_IDX_SUBJECT, "idx.subject"},
           {LDG_DB_IDX_RUN, "idx.run"},   {LDG_DB_IDX_ACTOR, "idx.actor"},
           {LDG_DB_IDX_TIME, "idx.time"}, {LDG_DB_IDX_ID, "idx.id"}};

/* Entries an index holds for the log: one per event, one per event with
 * a run (idx.run), one per event with an id (idx.id). */
static uint64_t
index_want(const struct vstate *vs, enum ldg_core_db db, uint64_t size,
           uint64_t with_run)
{
    return db == LDG_DB_IDX_RUN  ? with_run
           : db == LDG_DB_IDX_ID ? vs->with_id
                                 : size;
}

/* Every index holds exactly one entry per event (run: per event with a
 * run); more means entries that point at nothing. */
static void
check_index_counts(struct vstate *vs, struct ldg_txn *t, uint64_t size,
                   uint64_t with_run)
{
    for (size_t i = 0; i < sizeof idx / sizeof idx[0]; i++) {
        uint64_t n = 0, want = index_want(vs, idx[i].db, size, with_run);
        if (!ldg_store_has_core(vs->l->store, idx[i].db)) {
            if (want > 0)
                bad(vs, size ? size - 1 : 0,
                    "index %s is missing, the log calls for %llu entries",
                    idx[i].name, (unsigned long long)want);
            continue;
        }
        if (ldg_db_count(t, ldg_store_core_dbi(vs->l->store, idx[i].db), &n) ==
                0 &&
            n != want) {
            bad(vs, size ? size - 1 : 0,
                "index %s holds %llu entries, the log calls for %llu",
                idx[i].name, (unsigned long long)n, (unsigned long long)want);
            return;
        }
    }
}

/*
 * verify --full: every index walked key by key, in order, as a scan reads
 * it (query by type, subject, run, actor or time; timeline). The
 * per-event lookups above reach only the paths to the keys they look for,
 * and LMDB trusts its pages: a flipped bit elsewhere in an index page
 * passed them while a later scan of it failed or crashed. Each key must
 * be well formed (a string without NUL, a NUL, a big-endian seq; for
 * idx.time two big-endian numbers), hold an empty value, name an event
 * below size, and come in strictly increasing order; and the walk must
 * find as many keys as the log calls for. The walk runs in the verifying
 * child (cli/cmd_core.c): a page that faults kills it, which is reported
 * as corrupt storage. Returns 1 on a finding.
 */
static int
walk_index(struct vstate *vs, struct ldg_txn *t, enum ldg_core_db db,
           const char *name, uint64_t size, uint64_t want, int report,
           const uint8_t hkey[16], uint64_t sum[2], uint64_t *nout)
{
    struct ldg_cursor *c = NULL;
    struct ldg_val k, v;
    const uint8_t *prev = NULL; /* the key before (mapped: stays valid) */
    size_t prevlen = 0;
    uint64_t n = 0;
    int rc, op = LDG_FIRST;

    if (ldg_cursor_open(t, ldg_store_core_dbi(vs->l->store, db), &c) < 0) {
        if (report)
            bad(vs, size ? size - 1 : 0, "index %s cannot be read", name);
        return 1;
    }
    for (;; op = LDG_NEXT, n++) {
        const uint8_t *p;
        uint64_t seq;
        const char *why = NULL;
        int cmp;

        rc = ldg_cursor_get(c, (enum ldg_seek)op, NULL, 0, &k, &v);
        if (rc == LDG_ENOTFOUND)
            break;
        if (rc < 0) {
            if (report)
                bad(vs, size ? size - 1 : 0,
                    "index %s: reading entry %llu failed (%s): its pages are "
                    "corrupt",
                    name, (unsigned long long)n, ldg_strerror(rc));
            ldg_cursor_close(c);
            return 1;
        }
        p = k.data;
        if (db == LDG_DB_IDX_TIME ? k.len != 16
                                  : k.len < 9 || k.len > LDG_SUBJECT_MAX + 16)
            why = "has a key of the wrong size";
        else if (db != LDG_DB_IDX_TIME &&
                 (p[k.len - 9] != 0 || memchr(p, 0, k.len - 9) != NULL))
            why = "has a key that is not \"value NUL seq\"";
        else if (v.len != 0)
            why = "has a key with a value (index values are empty)";
        seq = why == NULL ? ldg_rd_be64(p + k.len - 8) : 0;
        if (why == NULL && seq >= size)
            why = "names an event past the end of the log";
        if (why == NULL && n > 0) {
            size_t m = prevlen < k.len ? prevlen : k.len;
            cmp = memcmp(prev, p, m);
            if (cmp > 0 || (cmp == 0 && prevlen >= k.len))
                why = "is out of order (a corrupt page)";
        }
        if (why != NULL) {
            if (report)
                bad(vs, seq < size ? seq : (size ? size - 1 : 0),
                    "index %s: entry %llu %s", name, (unsigned long long)n,
                    why);
            ldg_cursor_close(c);
            return 1;
        }
        prev = p;
        prevlen = k.len;
        if (sum != NULL) {
            uint8_t h[16];
            ldg_shorthash128(h, hkey, p, k.len);
            sum_add(sum, h);
        }
    }
    ldg_cursor_close(c);
    if (nout != NULL)
        *nout = n;
    if (want != UINT64_MAX && n != want) {
        if (report)
            bad(vs, size ? size - 1 : 0,
                "index %s: a walk of it finds %llu entries, the log calls for "
                "%llu",
                name, (unsigned long long)n, (unsigned long long)want);
        return 1;
    }
    return 0;
}

static void
walk_indexes(struct vstate *vs, struct ldg_txn *t, uint64_t size,
             uint64_t with_run)
{
    for (size_t i = 0; i < sizeof idx / sizeof idx[0]; i++) {
        if (!ldg_store_has_core(vs->l->store, idx[i].db))
            continue; /* check_index_counts said so if it matters */
        if (walk_index(vs, t, idx[i].db, idx[i].name, size,
                       index_want(vs, idx[i].db, size, with_run), 1, NULL,
                       NULL, NULL))
            return;
    }
}

/*
 * verify --full from 0, instead of six lookups per event: pass 2 summed a
 * keyed hash of every index key the entries call for (per index, mod
 * 2^128, under a key drawn at random for this run); here each index is
 * walked once, in order, with walk_index's checks, summing the same hash
 * of every key it holds. The keys of an index are distinct and so are the
 * ones the entries call for (each ends in its seq), so equal counts and
 * equal sums mean the same set of keys, except with a probability near
 * 2^-128 that nobody can raise without the key. Returns 1 when every
 * index walked cleanly and matched (the walk verify --full makes is then
 * done too); 0 otherwise: check_indexes_slow then names the first event
 * whose entry is missing, and the counts and the walk report the rest.
 */
/* Walk i of the fast index check (no findings reported: a walk that
 * stops or a count or sum that differs sends verify to the slow path). */
static void
walk_one(struct vstate *vs, struct ldg_txn *t, int i, struct vwalk *w)
{
    memset(w, 0, sizeof *w);
    w->finding = !ldg_store_has_core(vs->l->store, idx[i].db) ||
                 walk_index(vs, t, idx[i].db, idx[i].name, vs->to, UINT64_MAX,
                            0, vs->idx_key[idx_slot(idx[i].db)], w->sum,
                            &w->n);
    w->state = 2;
}

static int
check_indexes_fast(struct vstate *vs, struct ldg_txn *t, uint64_t size,
                   uint64_t with_run)
{
    for (size_t i = 0; i < sizeof idx / sizeof idx[0]; i++) {
        int slot = idx_slot(idx[i].db);
        struct vwalk *w = &vs->walks[i];
        if (w->state != 2)
            walk_one(vs, t, (int)i, w); /* no worker took it */
        if (w->finding || w->n != index_want(vs, idx[i].db, size, with_run) ||
            w->sum[0] != vs->idx_sum[slot][0] ||
            w->sum[1] != vs->idx_sum[slot][1])
            return 0;
    }
    return 1;
}

/* The per-event lookups of every index entry, for the events pass 2
 * looked at (before the first finding), as pass 2 makes them without
 * idx_fast. */
static int
check_indexes_slow(struct vstate *vs, struct ldg_txn *t)
{
    struct seqrd ent;
    uint64_t end = vs->next < vs->to ? vs->next : vs->to;
    int rc = 0;

    seqrd_open(&ent, t, ldg_store_core_dbi(vs->l->store, LDG_DB_ENTRIES));
    for (uint64_t seq = vs->from; seq < end && seq < vs->bad_seq; seq++) {
        struct ldg_event ev;
        struct ldg_val v;
        if (seqrd_seq(&ent, seq, &v) < 0 ||
            ldg_event_decode_flags(v.data, v.len, &ev, LDG_DECODE_TRUSTED) < 0)
            break; /* pass 2 said so */
        if (ldg_index_check(t, &ev) != 0) {
            bad(vs, seq, "an index entry for this event is missing");
            break;
        }
    }
    seqrd_close(&ent);
    return rc;
}

/*
 * What verification remembers, in the core's meta database (FORMAT.md
 * section 6):
 *
 *   "verified"       u64be size ‖ root[32]     verified position
 *   "verify.full"    u64be size ‖ u64be ts_ns  last full verification
 *   "verify.finding" u64be seq ‖ u64be ts_ns ‖ text (UTF-8, no NUL)
 *                                              a standing failure
 */
static const char K_VERIFIED[] = "verified", K_FULL[] = "verify.full",
                  K_FINDING[] = "verify.finding";

static uint64_t
wall_ns(const struct ldg_ledger *l)
{
    struct timespec ts;
    if (l->clock_ns != NULL)
        return *l->clock_ns;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
state_read(struct ldg_txn *t, ldg_dbi meta, struct ldg_verify_state *st,
           uint8_t root[32])
{
    struct ldg_val v;

    memset(st, 0, sizeof *st);
    if (ldg_kv_get(t, meta, K_VERIFIED, strlen(K_VERIFIED), &v) == 0 &&
        v.len == 40) {
        st->verified_size = ldg_rd_be64(v.data);
        if (root != NULL)
            memcpy(root, (const uint8_t *)v.data + 8, 32);
    }
    if (ldg_kv_get(t, meta, K_FULL, strlen(K_FULL), &v) == 0 && v.len == 16) {
        st->full_size = ldg_rd_be64(v.data);
        st->full_ts_ns = ldg_rd_be64((const uint8_t *)v.data + 8);
    }
    if (ldg_kv_get(t, meta, K_FINDING, strlen(K_FINDING), &v) == 0 &&
        v.len >= 16) {
        size_t n = v.len - 16;
        if (n >= sizeof st->finding_what)
            n = sizeof st->finding_what - 1;
        st->finding = 1;
        st->finding_seq = ldg_rd_be64(v.data);
        st->finding_ts_ns = ldg_rd_be64((const uint8_t *)v.data + 8);
        memcpy(st->finding_what, (const uint8_t *)v.data + 16, n);
        st->finding_what[n] = '\0';
    }
}

int
ldg_verify_state(struct ldg_ledger *l, struct ldg_verify_state *st)
{
    struct ldg_txn *t = NULL;
    int rc;

    if (l == NULL || st == NULL)
        return LDG_EINVAL;
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
        return rc;
    state_read(t, ldg_store_core_dbi(l->store, LDG_DB_META), st, NULL);
    ldg_txn_abort(t);
    return 0;
}

int
ldg_verify_record(struct ldg_ledger *l, const struct ldg_verify_report *r)
{
    struct ldg_txn *t = NULL;
    ldg_dbi meta;
    uint8_t rec[16 + sizeof r->what];
    int rc;

    if (l == NULL || r == NULL)
        return LDG_EINVAL;
    if (l->opts.flags & LDG_RDONLY) {
        ldg_seterr(l, "the ledger is open read-only: the verification's "
                      "result cannot be recorded");
        return LDG_EINVAL;
    }
    if (r->finding_stands)
        return 0; /* nothing new */
    if ((rc = ldg_txn_begin(l, LDG_TXN_WRITE, &t)) < 0)
        return rc;
    meta = ldg_store_core_dbi(l->store, LDG_DB_META);
    if (r->bad_seq != UINT64_MAX && r->what[0] != '\0') {
        struct ldg_verify_state st;
        size_t n = strlen(r->what);
        state_read(t, meta, &st, NULL);
        /* An earlier, lower finding stays: it names the first bad event. */
        if (!st.finding || r->bad_seq < st.finding_seq) {
            ldg_be64(rec, r->bad_seq);
            ldg_be64(rec + 8, r->found_ts_ns);
            memcpy(rec + 16, r->what, n);
            rc = ldg_core_kv_put(t, meta, K_FINDING, strlen(K_FINDING), rec,
                                 16 + n);
        }
    } else {
        ldg_be64(rec, r->to);
        memcpy(rec + 8, r->root, 32);
        rc = ldg_core_kv_put(t, meta, K_VERIFIED, strlen(K_VERIFIED), rec, 40);
        if (rc == 0 && r->full) {
            ldg_be64(rec, r->full_size);
            ldg_be64(rec + 8, r->full_ts_ns);
            rc = ldg_core_kv_put(t, meta, K_FULL, strlen(K_FULL), rec, 16);
            if (rc == 0) {
                rc = ldg_core_kv_del(t, meta, K_FINDING, strlen(K_FINDING),
                                     NULL, 0);
                if (rc == LDG_ENOTFOUND)
                    rc = 0;
            }
        }
    }
    if (rc == 0)
        return ldg_txn_commit(t);
    ldg_txn_abort(t);
    return rc;
}

int
ldg_verify_record_dir(const char *dir, const struct ldg_options *opts,
                      const struct ldg_verify_report *r, char *err,
                      size_t errcap)
{
    struct ldg_options o;
    struct ldg_ledger *w = NULL;
    char path[4096];
    struct stat st;
    int rc;

    if (dir == NULL || r == NULL)
        return LDG_EINVAL;
    if (err != NULL && errcap > 0)
        err[0] = '\0';
    if (r->finding_stands)
        return 0;
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    if (stat(path, &st) == 0 && (st.st_mode & 0222) == 0) {
        if (err != NULL)
            snprintf(err, errcap, "%s is write-protected", path);
        return LDG_EIO;
    }
    if (opts != NULL)
        o = *opts;
    else
        memset(&o, 0, sizeof o);
    o.flags &= ~(unsigned)LDG_RDONLY;
    if ((rc = ldg_open(&w, dir, &o, err, errcap)) < 0)
        return rc;
    if ((rc = ldg_verify_record(w, r)) < 0 && err != NULL)
        snprintf(err, errcap, "%s", ldg_errmsg(w));
    ldg_close(w);
    return rc;
}

int
ldg_verify(struct ldg_ledger *l, unsigned flags, uint64_t from,
           struct ldg_verify_report *r,
           void (*progress)(void *ctx, uint64_t done, uint64_t total),
           void *progress_ctx)
{
    struct vstate vs;
    struct ldg_txn *t = NULL;
    struct ldg_verify_state st;
    uint64_t size = 0, saved_size = 0, with_run = 0;
    uint8_t saved_root[32] = {0}, root[32];
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned nthreads = ncpu > 0 ? (unsigned)ncpu : 1;
    pthread_t th[16];
    int rc, walked = 0;

    if (l == NULL || r == NULL)
        return LDG_EINVAL;
    memset(r, 0, sizeof *r);
    r->bad_seq = UINT64_MAX;
    memset(&vs, 0, sizeof vs);
    vs.l = l;
    vs.bad_seq = UINT64_MAX;
    vs.progress = progress;
    vs.progress_ctx = progress_ctx;
    pthread_mutex_init(&vs.mu, NULL);
    pthread_cond_init(&vs.p1_cv, NULL);

    rc = ldg_txn_begin(l, LDG_TXN_READ, &t);
    if (rc < 0)
        goto out;
    if ((rc = ldg_txn_size(t, &size)) < 0)
        goto out;
    state_read(t, ldg_store_core_dbi(l->store, LDG_DB_META), &st, saved_root);
    saved_size = st.verified_size;
    r->full = (flags & LDG_VERIFY_FULL) && from == 0;
    r->full_size = st.full_size;
    r->full_ts_ns = st.full_ts_ns;
    if (flags & LDG_VERIFY_FULL)
        vs.from = from;
    else
        vs.from = from ? from : saved_size;
    if (vs.from > size)
        vs.from = size;
    vs.to = size;
    vs.next = 0; /* bodies from 0; signatures and indexes from vs.from */
    vs.idx_fast = (flags & LDG_VERIFY_FULL) && vs.from == 0;
    if (vs.idx_fast)
        ldg_random(vs.idx_key, sizeof vs.idx_key);
    if (nthreads > 16)
        nthreads = 16;
    /* Pass 2 workers start now and follow pass 1 on this thread. */
    for (unsigned i = 0; i < nthreads; i++)
        if (pthread_create(&th[i], NULL, pass2_worker, &vs) != 0)
            nthreads = i;
    rc = pass1(&vs, t, size, saved_size, saved_root, &r->checkpoints, root,
               &with_run);
    if (nthreads == 0 && rc == 0)
        pass2_worker(&vs);
    for (unsigned i = 0; i < nthreads; i++)
        pthread_join(th[i], NULL);
    if (rc < 0)
        goto out;
    if (vs.io_rc < 0) {
        rc = vs.io_rc;
        goto out;
    }
    /* the index lookups pass 2 left out, first: their findings come
     * before the deferred body checks' for the same event, as when pass
     * 2 made them */
    if (vs.idx_fast) {
        walked = check_indexes_fast(&vs, t, size, with_run);
        if (!walked)
            check_indexes_slow(&vs, t);
    }
    deferred_body_checks(&vs, t);
    if (vs.p1_finished && vs.p1_done == size)
        check_registry(&vs, t, size);
    if (vs.p1_finished && vs.p1_done == size && vs.bad_seq == UINT64_MAX &&
        l->format >= 2)
        check_seals(&vs, t, size);
    /* Counts name no event of their own: only when nothing else did. */
    if (vs.bad_seq == UINT64_MAX)
        check_index_counts(&vs, t, size, with_run);
    if (vs.bad_seq == UINT64_MAX && (flags & LDG_VERIFY_FULL) && !walked)
        walk_indexes(&vs, t, size, with_run);
    r->from = vs.from;
    r->to = size;
    r->checked = size - vs.from;
    r->erased = vs.nerased;
    ldg_txn_abort(t);
    t = NULL;
    if (vs.bad_seq != UINT64_MAX) {
        r->bad_seq = vs.bad_seq;
        r->found_ts_ns = wall_ns(l);
        snprintf(r->what, sizeof r->what, "%s", vs.what);
    } else if (st.finding && !r->full) {
        /* What was found stays found until a full verification passes:
         * a plain run over new events cannot clear it. */
        r->finding_stands = 1;
        r->bad_seq = st.finding_seq;
        r->found_ts_ns = st.finding_ts_ns;
        snprintf(r->what, sizeof r->what, "%s", st.finding_what);
    } else {
        memcpy(r->root, root, 32);
        if (r->full) {
            r->full_size = size;
            r->full_ts_ns = wall_ns(l);
        }
    }
    /* Checked first; recorded afterwards, where that is possible. */
    if (!(flags & LDG_VERIFY_NOSAVE) && !(l->opts.flags & LDG_RDONLY) &&
        !r->finding_stands) {
        int wrc = ldg_verify_record(l, r);
        if (wrc == 0)
            r->recorded = 1;
        else if (r->bad_seq == UINT64_MAX) {
            rc = wrc;
            goto out;
        }
    }
    rc = 0;
    if (r->bad_seq != UINT64_MAX) {
        ldg_seterr(l, "%s", r->what);
        rc = LDG_ETAMPER;
    }
out:
    ldg_txn_abort(t);
    free(vs.keys);
    free(vs.erased);
    free(vs.missing);
    free(vs.open);
    pthread_cond_destroy(&vs.p1_cv);
    pthread_mutex_destroy(&vs.mu);
    return rc;
}

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
};

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
    if (memcmp(root, s.root, 32) != 0 || ldg_seal_verify(&s, pub) != 0) {
        snprintf(why, cap,
                 "event %llu: its seal (at event %llu) does not verify with "
                 "key %s",
                 q, (unsigned long long)ev->seal_seq, s.key_id);
        return LDG_ETAMPER;
    }
    v->seal_first[v->seal_next] = ev->seal_seq;
    v->seal_last[v->seal_next] = last;
    v->seal_next = (v->seal_next + 1) % VOUCH_SEALS;
    if (v->nseal < VOUCH_SEALS)
        v->nseal++;
    return 0;
}

/* Seqs of events of one type, from the type index, into a growing array. */
static int
type_seqs(struct ldg_txn *t, const char *type, uint64_t **out, size_t *n)
{
    uint8_t key[LDG_TYPE_MAX + 1 + 8];
    size_t tl = strlen(type), cap = *n;
    struct ldg_cursor *c = NULL;
    struct ldg_val k, v;
    int rc;

    memcpy(key, type, tl + 1);
    ldg_be64(key + tl + 1, 0);
    if ((rc = ldg_cursor_open(
             t, ldg_store_core_dbi(ldg_txn_store(t), LDG_DB_IDX_TYPE), &c)) < 0)
        return rc;
    for (rc = ldg_cursor_get(c, LDG_SET_RANGE, key, tl + 9, &k, &v); rc == 0;
         rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v)) {
        if (k.len != tl + 9 || memcmp(k.data, key, tl + 1) != 0)
            break;
        if (*n == cap) {
            uint64_t *a;
            cap = cap ? cap * 2 : 16;
            if ((a = realloc(*out, cap * sizeof *a)) == NULL) {
                rc = LDG_ENOMEM;
                break;
            }
            *out = a;
        }
        (*out)[(*n)++] = ldg_rd_be64((const uint8_t *)k.data + tl + 1);
    }
    ldg_cursor_close(c);
    return rc == LDG_ENOTFOUND ? 0 : rc;
}

/* A key event (or the genesis) read as evidence: canonical, signed by the
 * log key, its body whole. *body is the caller's. */
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
        vouch_seal(v, ev, v->l->log_key->pub, why, cap) != 0)
        rc = LDG_EBADSIG;
    ldg_be64(k, seq);
    if (rc == 0 &&
        (ldg_kv_get(v->t,
                    ldg_store_core_dbi(ldg_txn_store(v->t), LDG_DB_BODIES), k,
                    8, &bv) < 0 ||
         ldg_body_rec_root(bv.data, bv.len, v->l->opts.body_max_bytes, root) <
             0 ||
         memcmp(root, ev->body_root, 32) != 0))
        rc = LDG_ECORRUPT;
    if (rc == 0)
        rc = ldg_body_get(v->t, seq, body);
    if (rc < 0) {
        snprintf(why, cap, "event %llu (a key event): %s",
                 (unsigned long long)seq, ldg_strerror(rc));
        return LDG_ETAMPER;
    }
    return 0;
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
    if ((rc = type_seqs(t, "key.added", &seqs, &n)) < 0)
        goto fail;
    nadd = n;
    if ((rc = type_seqs(t, "key.revoked", &seqs, &n)) < 0)
        goto fail;
    {
        struct vkey *a = realloc(v->keys, (1 + nadd) * sizeof *a);
        if (a == NULL) {
            rc = LDG_ENOMEM;
            goto fail;
        }
        v->keys = a;
    }
    for (size_t i = 0; i < n; i++) {
        struct ldg_event ev;
        json_t *body;
        const char *id, *hex;
        if (vouch_key_event(v, seqs[i], &ev, &body, why, sizeof why) < 0)
            continue; /* such a key is simply not valid: its events fail */
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
    if ((rc = type_seqs(t, "body.erased", &seqs, &n)) < 0)
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
        qsort(v->erased, v->nerased, sizeof *v->erased, cmp_u64);
    free(seqs);
    *out = v;
    return 0;
fail:
    free(seqs);
    ldg_vouch_free(v);
    return rc;
}

void
ldg_vouch_free(struct ldg_vouch *v)
{
    if (v == NULL)
        return;
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
    if (ldg_tree_stored_hash(v->t, 0, seq, leaf) < 0 ||
        memcmp(leaf, ev.leaf, 32) != 0) {
        snprintf(why, cap,
                 "event %llu: the entry is not the stored tree's "
                 "leaf (entry or tree altered)",
                 s);
        return LDG_ETAMPER;
    }
    if ((seq > 0 && ldg_tree_stored_hash(v->t, 0, seq - 1, prev) < 0) ||
        memcmp(prev, ev.prev, 32) != 0) {
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
    rc =
        ldg_kv_get(v->t, ldg_store_core_dbi(ldg_txn_store(v->t), LDG_DB_BODIES),
                   kb, 8, &bv);
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
        snprintf(why, cap, "event %llu: %s", s, MSG_NOBODY);
        return LDG_ETAMPER;
    }
    if (rc < 0)
        return rc;
    if (ldg_body_rec_root(bv.data, bv.len, v->l->opts.body_max_bytes, root) <
            0 ||
        memcmp(root, ev.body_root, 32) != 0) {
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

    if (rc == 0 && !ev.sealed && ldg_event_verify_sig(&ev, pub) != 0) {
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
        for (size_t i = lo; i < hi; i++)
            if (!w->ev[i].sealed &&
                ldg_event_verify_sig(&w->ev[i], w->pub[i]) != 0) {
                pthread_mutex_lock(&w->mu);
                if (i < w->first_bad)
                    w->first_bad = i;
                pthread_mutex_unlock(&w->mu);
                break;
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
        if (w.first_bad < k) {
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

int
ldg_verify_trusted(struct ldg_ledger *l, const char *note, size_t len,
                   struct ldg_trusted_report *r)
{
    char origin[LDG_ORIGIN_MAX + 1], h1[45], h2[45];
    uint8_t troot[32], root[32];
    struct ldg_txn *t = NULL;
    size_t tlen;
    int rc;

    memset(r, 0, sizeof *r);
    if (ldg_note_verify(note, len, l->origin, l->log_key->pub, &tlen) != 0) {
        ldg_seterr(l,
                   "the trusted checkpoint is not a note signed by this "
                   "ledger's log key (%s)",
                   l->origin);
        return LDG_EBADINPUT;
    }
    if (ldg_checkpoint_parse(note, tlen, origin, sizeof origin,
                             &r->trusted_size, troot) != 0 ||
        strcmp(origin, l->origin) != 0) {
        ldg_seterr(l, "the trusted checkpoint is malformed");
        return LDG_EBADINPUT;
    }
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
        return rc;
    if ((rc = ldg_txn_size(t, &r->log_size)) < 0)
        goto out;
    ldg_base64(h1, troot, 32);
    if (r->log_size < r->trusted_size) {
        snprintf(r->what, sizeof r->what,
                 "rolled back: the trusted checkpoint covers %llu events "
                 "(root %s) but the log has only %llu",
                 (unsigned long long)r->trusted_size, h1,
                 (unsigned long long)r->log_size);
        rc = LDG_ETAMPER;
        goto out;
    }
    if ((rc = ldg_tree_root(t, r->trusted_size, root)) < 0)
        goto out;
    ldg_base64(h2, root, 32);
    if (memcmp(root, troot, 32) != 0) {
        snprintf(r->what, sizeof r->what,
                 "forked: at size %llu the trusted checkpoint has root %s "
                 "but the log's tree has root %s",
                 (unsigned long long)r->trusted_size, h1, h2);
        rc = LDG_ETAMPER;
        goto out;
    }
    snprintf(r->what, sizeof r->what,
             "consistent with the trusted checkpoint of size %llu (root %s); "
             "the log has %llu events",
             (unsigned long long)r->trusted_size, h1,
             (unsigned long long)r->log_size);
out:
    ldg_txn_abort(t);
    return rc;
}
