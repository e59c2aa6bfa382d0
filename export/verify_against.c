/* verify_against.c — two copies of one log compared (--against).
 *
 * A bundle verified whole proves one history. Two bundles of the same log
 * that each verify can still tell two histories: a clone of the box, or
 * whoever took its keys, writing on from some seq. Where they overlap
 * they must agree byte for byte: a checkpoint of one size has one root,
 * an event of one seq one entry, a seal of one seq one key, range and
 * root. When two statements that differ are both signed by epoch keys
 * certified from the key's anchor, the box's epoch keys signed both: an
 * equivocation (docs/EPOCHS.md). */
#include <stdlib.h>
#include <string.h>

#include "export/verify_int.h"
#include "ledger/module.h"

/* What the comparison found: the "against" check's failures, and the
 * first equivocation with their count. */
struct cmp {
    struct vctx *v, *w; /* this bundle, the other one */
    struct fails diff, eq;
    uint64_t events, seals, checkpoints;
};

static int
cmp_sealep(const void *a, const void *b)
{
    const struct vsealep *x = a, *y = b;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

static const struct vsealep *
find_sealep(const struct vctx *v, uint64_t seq)
{
    size_t lo = 0, hi = v->nsealeps;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v->sealeps[mid].seq == seq)
            return &v->sealeps[mid];
        if (v->sealeps[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* The two checkpoints, when of one size. */
static void
cmp_checkpoints(struct cmp *c)
{
    struct vctx *v = c->v, *w = c->w;
    char vr[45], wr[45];

    if (!v->ck_ok || !w->ck_ok || v->cksize != w->cksize)
        return;
    c->checkpoints++;
    if (memcmp(v->root, w->root, 32) == 0)
        return;
    ldg_base64(vr, v->root, 32);
    ldg_base64(wr, w->root, 32);
    if (v->ck_ep && w->ck_ep && memcmp(v->ck_anchor, w->ck_anchor, 32) == 0)
        bv_fail_add(&c->eq,
                    "at size %llu this bundle's checkpoint (root %s) is "
                    "signed by epoch %u.%u of the log key, the other's (root "
                    "%s) by epoch %u.%u, each certified from the log key's "
                    "anchor",
                    (unsigned long long)v->cksize, vr, v->ck_period, v->ck_sub,
                    wr, w->ck_period, w->ck_sub);
    else
        bv_fail_add(&c->diff,
                    "the two checkpoints of size %llu have different roots "
                    "(%s here, %s there)",
                    (unsigned long long)v->cksize, vr, wr);
}

/* Every event both carry: one entry. */
static void
cmp_events(struct cmp *c)
{
    for (size_t i = 0; i < c->w->nev; i++) {
        const struct vev *b = &c->w->ev[i];
        const struct vev *a = bv_find_ev(c->v, b->seq);
        if (a == NULL || a->entry == NULL || b->entry == NULL)
            continue;
        c->events++;
        if (a->entry->len != b->entry->len ||
            memcmp(a->entry->data, b->entry->data, a->entry->len) != 0)
            bv_fail_add(&c->diff,
                        "event %llu differs: the two bundles carry two "
                        "entries of it (two histories from there on)",
                        (unsigned long long)b->seq);
    }
}

/* One seal both carry at seq: one key, range and root. */
static void
cmp_seal(struct cmp *c, uint64_t seq, const struct bmember *x,
         const struct bmember *y)
{
    unsigned long long s = (unsigned long long)seq;
    const struct vsealep *ex, *ey;
    struct ldg_seal a, b;

    LDG_ASSERT(x != NULL && y != NULL && strcmp(x->name, y->name) == 0);
    c->seals++;
    if (ldg_seal_record_decode(x->data, x->len, &a) < 0 ||
        ldg_seal_record_decode(y->data, y->len, &b) < 0)
        return; /* each bundle's own checks said so */
    if (strcmp(a.key_id, b.key_id) == 0 && a.first == b.first &&
        a.count == b.count && memcmp(a.root, b.root, 32) == 0)
        return; /* the same statement */
    ex = find_sealep(c->v, seq);
    ey = find_sealep(c->w, seq);
    if (strcmp(a.key_id, b.key_id) == 0 && ex != NULL && ey != NULL &&
        memcmp(ex->anchor, ey->anchor, 32) == 0)
        bv_fail_add(&c->eq,
                    "seal %llu of key %s: this bundle's (events %llu to %llu) "
                    "is signed by epoch %u.%u, the other's (events %llu to "
                    "%llu) by epoch %u.%u, each certified from the key's "
                    "anchor, and they differ",
                    s, a.key_id, (unsigned long long)a.first,
                    (unsigned long long)(a.first + a.count - 1), ex->period,
                    ex->sub, (unsigned long long)b.first,
                    (unsigned long long)(b.first + b.count - 1), ey->period,
                    ey->sub);
    else
        bv_fail_add(&c->diff,
                    "seal %llu differs: key %s, events %llu to %llu here; key "
                    "%s, events %llu to %llu there",
                    s, a.key_id, (unsigned long long)a.first,
                    (unsigned long long)(a.first + a.count - 1), b.key_id,
                    (unsigned long long)b.first,
                    (unsigned long long)(b.first + b.count - 1));
}

static void
cmp_seals(struct cmp *c)
{
    static const char pre[] = "seals/";

    for (size_t i = 0; i < c->w->b.n; i++) {
        const struct bmember *y = &c->w->b.m[i];
        const struct bmember *x;
        char *end;
        unsigned long long seq;

        if (strncmp(y->name, pre, sizeof pre - 1) != 0)
            continue;
        seq = strtoull(y->name + sizeof pre - 1, &end, 10);
        if (strcmp(end, ".seal") != 0 ||
            (x = bundle_get(&c->v->b, y->name)) == NULL)
            continue;
        cmp_seal(c, seq, x, y);
    }
}

static void
compare(struct vctx *w, void *arg)
{
    struct cmp *c = arg;
    char vk[17], wk[17];

    LDG_ASSERT(w != c->v && w->r->ok);
    c->w = w;
    /* noted in the order their first event came: a bundle without a
     * seal's first event meets it later */
    if (c->v->nsealeps > 1)
        qsort(c->v->sealeps, c->v->nsealeps, sizeof *c->v->sealeps, cmp_sealep);
    if (w->nsealeps > 1)
        qsort(w->sealeps, w->nsealeps, sizeof *w->sealeps, cmp_sealep);
    ldg_hex(vk, c->v->logpub, 8);
    ldg_hex(wk, w->logpub, 8);
    if (memcmp(c->v->logpub, w->logpub, 32) != 0 ||
        strcmp(c->v->ck_origin, w->ck_origin) != 0) {
        bv_fail_add(&c->diff,
                    "%s is a bundle of another log (%s, key %s; this one: %s, "
                    "key %s)",
                    c->v->o->against, w->ck_origin, wk, c->v->ck_origin, vk);
        return;
    }
    /* by seq: a seal names the first bad one, the checkpoint the end */
    cmp_events(c);
    cmp_seals(c);
    cmp_checkpoints(c);
}

/* The other bundle's first failed check, for the message. */
static const struct ldg_bundle_check *
first_fail(const struct ldg_bundle_report *r)
{
    for (size_t i = 0; i < r->nchecks; i++)
        if (r->checks[i].status == LDG_CHECK_FAIL)
            return &r->checks[i];
    return NULL;
}

void
bv_check_against(struct vctx *v)
{
    const char *path = v->o->against;
    struct ldg_bundle_verify_opts o;
    struct ldg_bundle_report *r;
    const struct ldg_bundle_check *bad;
    struct cmp c;
    int rc;

    if (path == NULL)
        return;
    LDG_ASSERT(v->r->nchecks > 0); /* this bundle's own checks ran first */
    if (!v->r->ok) {
        bv_check(v->r, "against", LDG_CHECK_SKIP,
                 "not compared with %s: this bundle did not verify", path);
        return;
    }
    if ((r = malloc(sizeof *r)) == NULL) {
        bv_check(v->r, "against", LDG_CHECK_FAIL, "out of memory");
        return;
    }
    /* the other copy is held to the same trust, not to this one's
     * checkpoint, witnesses or directory */
    o = *v->o;
    o.against = NULL;
    o.extract_dir = NULL;
    o.trusted_checkpoint = NULL;
    o.trusted_checkpoint_epoch = NULL;
    o.witness_keys = NULL;
    o.nwitness_keys = 0;
    o.quorum = 0;
    if (o.trusted_vkey == NULL) /* trusted by a checkpoint: its log key */
        o.trusted_vkey = v->vkey;
    memset(&c, 0, sizeof c);
    c.v = v;
    rc = bv_verify_file(path, &o, r, compare, &c);
    if (c.w == NULL) {
        bad = first_fail(r);
        if (r->segment)
            bv_check(v->r, "against", LDG_CHECK_FAIL,
                     "%s is a segment, not a bundle (compare bundles)", path);
        else
            bv_check(v->r, "against", LDG_CHECK_FAIL,
                     "%s does not verify (%s): nothing to compare with", path,
                     bad != NULL ? bad->detail : ldg_strerror(rc));
        free(r);
        return;
    }
    if (c.eq.n > 0)
        bv_check_fails(v->r, "equivocation", &c.eq, "%s", "");
    if (c.diff.n > 0 || c.eq.n > 0) {
        if (c.diff.n == 0)
            bv_fail_add(&c.diff, "the two bundles tell two histories (see "
                                 "equivocation)");
        bv_check_fails(v->r, "against", &c.diff, "%s", "");
    } else if (c.events + c.seals + c.checkpoints == 0) {
        bv_check(v->r, "against", LDG_CHECK_SKIP,
                 "%s (size %llu) verified, but shares no event, seal or "
                 "checkpoint size with this bundle: nothing compared",
                 path, (unsigned long long)r->checkpoint_size);
    } else {
        bv_check(v->r, "against", LDG_CHECK_PASS,
                 "%s (size %llu) verified and agrees with this bundle (size "
                 "%llu): %llu event%s and %llu seal%s in common%s",
                 path, (unsigned long long)r->checkpoint_size,
                 (unsigned long long)v->cksize, (unsigned long long)c.events,
                 c.events == 1 ? "" : "s", (unsigned long long)c.seals,
                 c.seals == 1 ? "" : "s",
                 c.checkpoints > 0 ? ", one root at that size" : "");
    }
    free(r);
}
