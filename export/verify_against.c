/* verify_against.c — two copies of one log compared (--against).
 *
 * A bundle verified whole proves one history. Two bundles of the same log
 * that each verify can still tell two histories: a clone of the box, or
 * whoever took its keys, writing on from some seq. Where they overlap
 * they must agree byte for byte: a checkpoint of one size has one root,
 * an event of one seq one entry, a seal of one seq the same record. When two
 * statements that differ are both signed by epoch keys certified from the key's
 * anchor, the box's epoch keys signed both: an equivocation (docs/EPOCHS.md).
 */
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
    struct vsealep key;

    key.seq = seq;
    return v->nsealeps ? bsearch(&key, v->sealeps, v->nsealeps,
                                 sizeof *v->sealeps, cmp_sealep)
                       : NULL;
}

/* ldg_hash_reader over a bundle's events 0..n-1 (ctx: its ev array,
 * every one of them held): a subtree's hash from its leaves. */
static int
leaf_reader(void *ctx, int level, uint64_t index, uint8_t out[32])
{
    const struct vev *ev = ctx;
    uint8_t l[32], r[32];

    if (level == 0) {
        memcpy(out, ev[index].ev.leaf, 32);
        return 0;
    }
    leaf_reader(ctx, level - 1, 2 * index, l);
    leaf_reader(ctx, level - 1, 2 * index + 1, r);
    ldg_tlog_node_hash(out, l, r);
    return 0;
}

/* The root of the tree of size n from x's own events, when x holds every
 * event below n (each proven in x's checkpoint): 0, or -1 when it does
 * not. */
static int
root_of_prefix(const struct vctx *x, uint64_t n, uint8_t root[32])
{
    if (n == 0 || x->nev < n)
        return -1;
    for (uint64_t i = 0; i < n; i++)
        if (x->ev[i].seq != i || !x->ev[i].decoded)
            return -1;
    return ldg_tlog_root(leaf_reader, x->ev, n, root) < 0 ? -1 : 0;
}

/* The checkpoints: of one size, one root; of two sizes, the smaller one's
 * root rebuilt from the larger bundle's events when it holds every event
 * below that size (a whole export does). */
static void
cmp_checkpoints(struct cmp *c)
{
    struct vctx *v = c->v, *w = c->w;
    const struct vctx *small = v->cksize <= w->cksize ? v : w;
    const struct vctx *big = small == v ? w : v;
    uint8_t root[32];
    char vr[45], wr[45], here[80], there[80];
    int same = v->cksize == w->cksize;

    if (!v->ck_ok || !w->ck_ok)
        return;
    if (same)
        memcpy(root, big->root, 32);
    else if (root_of_prefix(big, small->cksize, root) < 0)
        return; /* nothing proves the smaller one's root from the other */
    c->checkpoints++;
    if (memcmp(small->root, root, 32) == 0)
        return;
    ldg_base64(vr, small == v ? v->root : root, 32);
    ldg_base64(wr, small == w ? w->root : root, 32);
    snprintf(here, sizeof here, "%s (root %s)",
             small == v ? "checkpoint" : "events below it", vr);
    snprintf(there, sizeof there, "%s (root %s)",
             small == w || same ? "checkpoint" : "events below it", wr);
    if (v->ck_ep && w->ck_ep && memcmp(v->ck_anchor, w->ck_anchor, 32) == 0)
        bv_fail_add(&c->eq,
                    "at size %llu this bundle's %s and the other's %s give "
                    "two roots, this bundle's checkpoint signed by epoch "
                    "%u.%u of the log key, the other's by epoch %u.%u, each "
                    "certified from the log key's anchor",
                    (unsigned long long)small->cksize,
                    small == v ? "checkpoint" : "events below it",
                    small == w || same ? "checkpoint" : "events below it",
                    v->ck_period, v->ck_sub, w->ck_period, w->ck_sub);
    else
        bv_fail_add(&c->diff,
                    "at size %llu this bundle's %s and the other's %s differ",
                    (unsigned long long)small->cksize, here, there);
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

/* One seal both carry at seq: the same bytes (one key, range, root and
 * signatures: Ed25519 signs a message one way, so honest copies agree
 * byte for byte). */
static void
cmp_seal(struct cmp *c, uint64_t seq, const struct bmember *x,
         const struct bmember *y)
{
    unsigned long long s = (unsigned long long)seq;
    const struct vsealep *ex, *ey;
    struct ldg_seal a, b;
    char ar[45], br[45], ea[24] = "no epoch", eb[24] = "no epoch";

    LDG_ASSERT(x != NULL && y != NULL && strcmp(x->name, y->name) == 0);
    c->seals++;
    if (x->len == y->len && memcmp(x->data, y->data, x->len) == 0)
        return; /* the same statement */
    if (ldg_seal_record_decode(x->data, x->len, &a) < 0 ||
        ldg_seal_record_decode(y->data, y->len, &b) < 0)
        return; /* each bundle's own checks said so */
    ex = find_sealep(c->v, seq);
    ey = find_sealep(c->w, seq);
    if (ex != NULL)
        snprintf(ea, sizeof ea, "epoch %u.%u", ex->period, ex->sub);
    if (ey != NULL)
        snprintf(eb, sizeof eb, "epoch %u.%u", ey->period, ey->sub);
    ldg_base64(ar, a.root, 32);
    ldg_base64(br, b.root, 32);
    if (strcmp(a.key_id, b.key_id) == 0 && a.first == b.first &&
        a.count == b.count && memcmp(a.root, b.root, 32) == 0)
        bv_fail_add(&c->diff,
                    "seal %llu of key %s: the same events (%llu to %llu, "
                    "root %s) signed again: under %s here, %s there",
                    s, a.key_id, (unsigned long long)a.first,
                    (unsigned long long)(a.first + a.count - 1), ar, ea, eb);
    else if (strcmp(a.key_id, b.key_id) == 0 && ex != NULL && ey != NULL &&
             memcmp(ex->anchor, ey->anchor, 32) == 0)
        bv_fail_add(&c->eq,
                    "seal %llu of key %s: this bundle's (events %llu to %llu) "
                    "is signed by %s, the other's (events %llu to %llu) by "
                    "%s, each certified from the key's anchor, and they "
                    "differ",
                    s, a.key_id, (unsigned long long)a.first,
                    (unsigned long long)(a.first + a.count - 1), ea,
                    (unsigned long long)b.first,
                    (unsigned long long)(b.first + b.count - 1), eb);
    else
        bv_fail_add(&c->diff,
                    "seal %llu differs: key %s, events %llu to %llu, root %s "
                    "here; key %s, events %llu to %llu, root %s there",
                    s, a.key_id, (unsigned long long)a.first,
                    (unsigned long long)(a.first + a.count - 1), ar, b.key_id,
                    (unsigned long long)b.first,
                    (unsigned long long)(b.first + b.count - 1), br);
}

/* Every seal both carry, in seq order (the other's slots are sorted). */
static void
cmp_seals(struct cmp *c)
{
    for (size_t i = 0; i < c->w->nseals; i++) {
        const struct bmember *x, *y;
        char name[48];

        snprintf(name, sizeof name, "seals/%llu.seal",
                 (unsigned long long)c->w->seals[i].seq);
        if ((y = bundle_get(&c->w->b, name)) == NULL ||
            (x = bundle_get(&c->v->b, name)) == NULL)
            continue;
        cmp_seal(c, c->w->seals[i].seq, x, y);
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
        bv_check(v->r, "against", LDG_CHECK_FAIL, "%s", bv_nomem());
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
                     bad != NULL ? bad->detail : bv_strerror(rc));
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
                 c.checkpoints > 0
                     ? (r->checkpoint_size == v->cksize
                            ? ", one root at that size"
                            : ", the smaller checkpoint's root rebuilt from "
                              "the other's events")
                     : "; the two checkpoints not compared (neither bundle "
                       "holds every event below the smaller size)");
    }
    free(r);
}
