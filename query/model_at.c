/*
 * model_at.c — what the log knew of a model's weights at an event: the
 * digest the runtime reported for it last (model.registered) and whether
 * `ledger model verify` hashed weights with that digest (model.verified
 * with ok true), at that moment and ever. A route decision, an eval and a
 * promotion name a model but not the bytes behind the name; this binds
 * them (docs/QUERY.md, "The model at an event").
 *
 * A cache keeps, per model, its registrations and successful
 * verifications in seq order, read once through idx.subject "model:M";
 * a lookup is then a walk of two short lists. One cache belongs to one
 * read transaction (its snapshot). The bodies are read in place (a body
 * view over the stored record: two fields of each, no jansson tree), and
 * the text of the last answer for each model is kept, so the events of a
 * run that name the same model at the same state share one rendering.
 */
#include <stdlib.h>
#include <string.h>

#include "query/query_int.h"
#include "ledger/module.h"
#include "projections/verified.h"
#include "util/util.h"

#define MC_MODELS_MAX 256 /* models cached; more are looked up uncached */

struct mrec {
    uint64_t seq;
    char digest[LDG_MODEL_DIGEST_MAX + 1];
    /* registrations: the digest's first successful verification, once
     * looked for: 0 not yet, 1 at vseq, 2 none */
    int vstate;
    uint64_t vseq;
};

/* The events in two index scans both (subject "model:M" and one type),
 * by leapfrogging: each scan skips to the other's seq, so a rare type
 * among a model's many events costs a few seeks, not a walk. */
struct isect {
    struct ldg_seqscan *a, *b;
};

struct mentry {
    char *model;
    /* the name its registrations and verifications are looked up by:
     * model, or Ollama's reading of a name without a tag, "model:latest",
     * when only that one is registered (free it when not model) */
    char *name;
    struct mrec *reg; /* registrations, all (seq order) */
    size_t nreg;
    /* successful verifications read so far (seq order): read on demand,
     * up to the first one of a digest asked about (all an answer needs) */
    struct mrec *ver;
    size_t nver;
    struct isect vs;          /* where the verifications not read yet begin */
    uint64_t vfrom;           /* the seq they begin at */
    int vreopen;              /* vs to be opened again (another txn) at vfrom */
    int vdone;                /* all read */
    struct ldg_model_at last; /* the answer text is the rendering of */
    struct q_mtext *text;     /* ,"model_at":{..}, or NULL */
    uint64_t text_lo, text_hi; /* last holds for the seqs [lo, hi) */
};

struct q_modelcache {
    struct ldg_txn *t; /* NULL when detached (q_modelcache_detach) */
    uint64_t snap;     /* ldg_txn_snapshot of the transactions it holds for */
    uint64_t hz;       /* a pruned ledger's horizon (0: never pruned) */
    struct mentry *e;
    size_t n;
    size_t hint;                /* the entry found last */
    struct ldg_reader *rd;      /* body records by seq */
    struct ldg_body_view *view; /* for reading them in place */
};

static void
isect_close(struct isect *x)
{
    ldg_seqscan_free(x->a);
    ldg_seqscan_free(x->b);
    x->a = x->b = NULL;
}

static int
isect_open(struct isect *x, struct ldg_txn *t, const char *subject,
           const char *type, uint64_t lo)
{
    int rc = ldg_seqscan_index(&x->a, t, LDG_INDEX_SUBJECT, subject, lo,
                               UINT64_MAX, 0);
    if (rc == 0)
        rc = ldg_seqscan_index(&x->b, t, LDG_INDEX_TYPE, type, lo, UINT64_MAX,
                               0);
    if (rc < 0)
        isect_close(x);
    return rc;
}

/* Moves s to its first seq at or after target into *cur: a few steps
 * first (a step is much cheaper than a seek), then a seek. 1, 0 at the
 * end, or an error. */
static int
advance_to(struct ldg_seqscan *s, uint64_t target, uint64_t *cur)
{
    int rc;
    for (int i = 0; i < 4; i++)
        if ((rc = ldg_seqscan_next(s, cur)) <= 0 || *cur >= target)
            return rc;
    ldg_seqscan_skip(s, target);
    return ldg_seqscan_next(s, cur);
}

/* The next seq in both scans: 1 with *seq, 0 at the end, or an error. */
static int
isect_next(struct isect *x, uint64_t *seq)
{
    uint64_t a, b;
    int rc;

    if ((rc = ldg_seqscan_next(x->a, &a)) <= 0)
        return rc;
    for (;;) {
        if ((rc = advance_to(x->b, a, &b)) <= 0)
            return rc;
        if (b == a)
            break;
        if ((rc = advance_to(x->a, b, &a)) <= 0)
            return rc;
        if (a == b)
            break;
    }
    *seq = a;
    return 1;
}

static void
entry_release(struct mentry *e)
{
    if (e->name != e->model)
        free(e->name);
    free(e->model);
    free(e->reg);
    free(e->ver);
    isect_close(&e->vs);
    q_mtext_drop(e->text);
    memset(e, 0, sizeof *e);
}

void
q_modelcache_free(struct q_modelcache *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++)
        entry_release(&c->e[i]);
    free(c->e);
    ldg_reader_free(c->rd);
    ldg_body_view_free(c->view);
    free(c);
}

static int
push(struct mrec **a, size_t *n, uint64_t seq, const char *digest)
{
    struct mrec *na = realloc(*a, (*n + 1) * sizeof **a);
    if (na == NULL)
        return LDG_ENOMEM;
    *a = na;
    memset(&na[*n], 0, sizeof na[*n]);
    na[*n].seq = seq;
    snprintf(na[*n].digest, sizeof na[*n].digest, "%s", digest);
    (*n)++;
    return 0;
}

/* The digest and ok of the model.registered/model.verified body of event
 * seq, read in place from its stored record where the view can, else
 * decoded: 1 with digest (NUL-terminated, at most LDG_MODEL_DIGEST_MAX
 * bytes) when the body has one, 0 when it has none or is erased. */
static int
digest_of(struct q_modelcache *c, uint64_t seq,
          char digest[LDG_MODEL_DIGEST_MAX + 1], int *ok)
{
    const uint8_t *rec;
    size_t rlen, n;
    struct ldg_slice d;
    json_t *body = NULL;
    const char *js;
    int b = 0;

    *ok = 0;
    if (ldg_reader_body(c->rd, seq, &rec, &rlen) < 0)
        return 0; /* erased: it says nothing any more */
    if (c->view != NULL && ldg_body_view_set_record(c->view, rec, rlen) == 0) {
        if (!ldg_body_view_str(c->view, "digest", &d))
            return 0;
        n = strnlen(d.p, d.n); /* as the C string jansson would give */
        if (n > LDG_MODEL_DIGEST_MAX)
            return 0;
        memcpy(digest, d.p, n);
        digest[n] = '\0';
        *ok = ldg_body_view_bool(c->view, "ok", &b) && b;
        return 1;
    }
    if (ldg_body_get(c->t, seq, &body) < 0)
        return 0;
    js = json_string_value(json_object_get(body, "digest"));
    if (js == NULL || strlen(js) > LDG_MODEL_DIGEST_MAX) {
        json_decref(body);
        return 0;
    }
    snprintf(digest, LDG_MODEL_DIGEST_MAX + 1, "%s", js);
    *ok = json_is_true(json_object_get(body, "ok"));
    json_decref(body);
    return 1;
}

/* Reads model's model.registered events and opens the scan of its
 * model.verified ones (read by first_verified), under e->name. */
static int
load_name(struct q_modelcache *c, const char *model, struct mentry *e)
{
    struct isect rs = {NULL, NULL};
    char subj[LDG_SUBJECT_MAX + 16];
    uint64_t seq;
    int rc;

    if (strlen(model) > LDG_SUBJECT_MAX - 6) {
        e->vdone = 1;
        return 0; /* no subject can name it: never registered */
    }
    snprintf(subj, sizeof subj, "model:%s", model);
    if (c->hz > 0) {
        /* a pruned ledger: the registrations before its horizon are gone,
         * and the state kept there has the last of them */
        char d[LDG_MODEL_DIGEST_MAX + 1];
        rc = ldg_projections_horizon_registration(c->t, model, &seq, d,
                                                  sizeof d);
        if (rc < 0 || (rc == 1 && seq < c->hz &&
                       (rc = push(&e->reg, &e->nreg, seq, d)) < 0))
            return rc;
    }
    if ((rc = isect_open(&rs, c->t, subj, LDG_EV_MODEL_REGISTERED, c->hz)) < 0)
        return rc;
    while ((rc = isect_next(&rs, &seq)) == 1) {
        char d[LDG_MODEL_DIGEST_MAX + 1];
        int ok;
        if (digest_of(c, seq, d, &ok) == 1 &&
            (rc = push(&e->reg, &e->nreg, seq, d)) < 0)
            break;
    }
    isect_close(&rs);
    if (rc < 0)
        return rc;
    if (e->nreg == 0) {
        e->vdone = 1; /* never registered: no digest to look for */
        return 0;
    }
    return isect_open(&e->vs, c->t, subj, LDG_EV_MODEL_VERIFIED, 0);
}

/* load_name for model, or for "model:latest" when model has no tag and
 * is not registered itself: an Ollama name without a tag means that one
 * (as the proxy reads the registry, docs/QUERY.md). */
static int
load(struct q_modelcache *c, const char *model, struct mentry *e)
{
    char alt[LDG_SUBJECT_MAX + 16];
    int rc;

    e->name = e->model;
    if ((rc = load_name(c, model, e)) < 0 || e->nreg > 0 ||
        !ldg_query_model_latest(model, alt, sizeof alt))
        return rc;
    isect_close(&e->vs);
    e->vdone = 0;
    if ((e->name = strdup(alt)) == NULL) {
        e->name = e->model;
        return LDG_ENOMEM;
    }
    if ((rc = load_name(c, e->name, e)) < 0 || e->nreg > 0)
        return rc;
    /* neither is registered: the name as given */
    isect_close(&e->vs);
    free(e->name);
    e->name = e->model;
    e->vdone = 1;
    return 0;
}

struct vwalk {
    struct q_modelcache *c;
    const char *digest;
    uint64_t seq;
    int found;
};

/* The index's candidates, and the events after its mark, checked as the
 * scan below checks them: the body still there (not erased), ok true,
 * that digest. */
static int
vwalk_one(void *ctx, uint64_t seq)
{
    struct vwalk *w = ctx;
    char d[LDG_MODEL_DIGEST_MAX + 1];
    int ok;
    /* a pruned event's body is gone: the index kept at the horizon holds
     * only what passed this check when it was folded */
    if (seq >= w->c->hz &&
        (digest_of(w->c, seq, d, &ok) != 1 || !ok || strcmp(d, w->digest) != 0))
        return 0;
    w->seq = seq;
    w->found = 1;
    return 1;
}

/* The subject's verifications from seq from on (those the index does not
 * cover yet), into w: 0 or an error. */
static int
vwalk_tail(struct q_modelcache *c, const char *subj, uint64_t from,
           struct vwalk *w)
{
    struct isect x = {NULL, NULL};
    uint64_t s;
    int rc = isect_open(&x, c->t, subj, LDG_EV_MODEL_VERIFIED, from);
    while (rc == 0 && (rc = isect_next(&x, &s)) == 1)
        rc = vwalk_one(w, s);
    isect_close(&x);
    return rc < 0 ? rc : 0;
}

/* The first successful verification of digest: 1 with *seq, 0 if there
 * is none, or an error. Asks the projections' index of verifications (a
 * seek, however long the log), and looks through the events after its
 * mark; a ledger without it (not opened for writing with the projections
 * since it was written) has its verifications read on from where the
 * last call stopped, only as far as needed. */
static int
first_verified(struct q_modelcache *c, struct mentry *e, const char *digest,
               uint64_t *seq)
{
    char vsubj[LDG_SUBJECT_MAX + 16];
    struct vwalk w = {c, digest, 0, 0};
    uint64_t upto = 0;
    int vrc;

    snprintf(vsubj, sizeof vsubj, "model:%s", e->name);
    vrc = ldg_projections_verified_walk(c->t, vsubj, digest, &upto, vwalk_one,
                                        &w);
    if (vrc == 0 && !w.found)
        vrc = vwalk_tail(c, vsubj, upto, &w);
    if (vrc == 0) {
        *seq = w.seq;
        return w.found;
    }
    if (vrc != LDG_ENOTFOUND && vrc != LDG_ETOOBIG)
        return vrc;
    for (size_t i = 0; i < e->nver; i++)
        if (strcmp(e->ver[i].digest, digest) == 0) {
            *seq = e->ver[i].seq;
            return 1;
        }
    while (!e->vdone) {
        char d[LDG_MODEL_DIGEST_MAX + 1];
        uint64_t s;
        int ok, rc;
        if (e->vreopen) { /* the cache moved to another transaction */
            char subj[LDG_SUBJECT_MAX + 16];
            snprintf(subj, sizeof subj, "model:%s", e->name);
            if ((rc = isect_open(&e->vs, c->t, subj, LDG_EV_MODEL_VERIFIED,
                                 e->vfrom)) < 0)
                return rc;
            e->vreopen = 0;
        }
        if ((rc = isect_next(&e->vs, &s)) < 0)
            return rc;
        if (rc == 0) {
            e->vdone = 1;
            isect_close(&e->vs);
            break;
        }
        e->vfrom = s + 1;
        if (digest_of(c, s, d, &ok) != 1 || !ok)
            continue;
        if ((rc = push(&e->ver, &e->nver, s, d)) < 0)
            return rc;
        if (strcmp(d, digest) == 0) {
            *seq = s;
            return 1;
        }
    }
    return 0;
}

/* The digest registered last at seq, and whether a successful
 * verification of that digest came at or before seq (verified) or ever
 * (ever_verified; verified_seq the first). [*lo, *hi) (may be NULL): the
 * seqs around seq for which the answer is the same (it changes at the next
 * registration, and at the verification when that comes after seq). */
static int
answer_range(struct q_modelcache *c, struct mentry *e, uint64_t seq,
             struct ldg_model_at *out, uint64_t *lo, uint64_t *hi)
{
    struct mrec *r = NULL;
    uint64_t l = 0, h = UINT64_MAX;
    size_t i;
    int rc;

    memset(out, 0, sizeof *out);
    for (i = 0; i < e->nreg && e->reg[i].seq <= seq; i++)
        r = &e->reg[i];
    if (i < e->nreg)
        h = e->reg[i].seq;
    if (r != NULL) {
        l = r->seq;
        out->known = 1;
        out->registered_seq = r->seq;
        memcpy(out->digest, r->digest, strlen(r->digest) + 1);
        if (r->vstate == 0) {
            if ((rc = first_verified(c, e, r->digest, &r->vseq)) < 0)
                return rc;
            r->vstate = rc == 1 ? 1 : 2;
        }
        if (r->vstate == 1) {
            out->ever_verified = 1;
            out->verified_seq = r->vseq;
            out->verified = r->vseq <= seq;
            if (r->vseq > seq && r->vseq < h)
                h = r->vseq;
            else if (r->vseq <= seq && r->vseq > l)
                l = r->vseq;
        }
    }
    if (lo != NULL)
        *lo = l;
    if (hi != NULL)
        *hi = h;
    return 0;
}

static int
answer(struct q_modelcache *c, struct mentry *e, uint64_t seq,
       struct ldg_model_at *out)
{
    return answer_range(c, e, seq, out, NULL, NULL);
}

void
q_modelcache_detach(struct q_modelcache *c)
{
    if (c == NULL)
        return;
    ldg_reader_free(c->rd);
    c->rd = NULL;
    for (size_t i = 0; i < c->n; i++)
        if (!c->e[i].vdone && c->e[i].vs.a != NULL) {
            isect_close(&c->e[i].vs);
            c->e[i].vreopen = 1;
        }
    c->t = NULL;
}

/* The cache of snapshot t in *cp, made (or remade for another snapshot)
 * as needed; NULL when out of memory. A detached cache is taken on by a
 * transaction of the same snapshot: what it read holds there too. */
static struct q_modelcache *
cache_for(struct q_modelcache **cp, struct ldg_txn *t)
{
    struct q_modelcache *c = *cp;
    if (c != NULL && c->t == NULL && c->snap == ldg_txn_snapshot(t)) {
        if (ldg_reader_new(&c->rd, t) < 0) {
            c->rd = NULL;
            return NULL;
        }
        c->t = t;
    }
    if (c != NULL && c->t != t) { /* another snapshot: start again */
        q_modelcache_free(c);
        c = *cp = NULL;
    }
    if (c == NULL) {
        c = calloc(1, sizeof *c);
        if (c == NULL)
            return NULL;
        c->t = t;
        c->snap = ldg_txn_snapshot(t);
        if (ldg_reader_new(&c->rd, t) < 0) {
            free(c);
            return NULL;
        }
        {
            struct ldg_horizon h;
            if (ldg_horizon_get(t, &h) == 0) {
                c->hz = h.seq;
                ldg_horizon_release(&h);
            }
        }
        *cp = c;
        if (ldg_body_view_new(&c->view) < 0)
            c->view = NULL; /* bodies are decoded instead */
        else /* compressed records too (a NULL set: decoded instead) */
            ldg_body_view_set_dicts(c->view, ldg_txn_dicts(t),
                                    ldg_body_max(ldg_txn_ledger(t)));
    }
    return c;
}

/* The cache entry of model, if it is cached. */
static struct mentry *
cached(struct q_modelcache *c, const char *model)
{
    for (size_t k = 0; k < c->n; k++) {
        size_t i = k == 0 ? c->hint : k - (k <= c->hint);
        if (strcmp(c->e[i].model, model) == 0) {
            c->hint = i;
            return &c->e[i];
        }
    }
    return NULL;
}

/* q_modelcache_lookup, with *ep the model's cache entry (NULL when the
 * cache is full and the model was looked up uncached). */
static int
lookup(struct q_modelcache **cp, struct ldg_txn *t, const char *model,
       uint64_t seq, struct ldg_model_at *out, struct mentry **ep)
{
    struct q_modelcache *c = cache_for(cp, t);
    struct mentry one, *e = NULL;
    int rc;

    *ep = NULL;
    if (c == NULL)
        return LDG_ENOMEM;
    if ((e = cached(c, model)) != NULL) {
        *ep = e;
        return answer(c, e, seq, out);
    }
    memset(&one, 0, sizeof one);
    if ((one.model = strdup(model)) == NULL)
        return LDG_ENOMEM;
    if ((rc = load(c, model, &one)) < 0) {
        entry_release(&one);
        return rc;
    }
    if (c->n < MC_MODELS_MAX) {
        struct mentry *ne = realloc(c->e, (c->n + 1) * sizeof *ne);
        if (ne != NULL) {
            c->e = ne;
            e = &c->e[c->n++];
            *e = one;
            *ep = e;
            return answer(c, e, seq, out);
        }
    }
    rc = answer(c, &one, seq, out);
    entry_release(&one);
    return rc;
}

int
q_modelcache_lookup(struct q_modelcache **cp, struct ldg_txn *t,
                    const char *model, uint64_t seq, struct ldg_model_at *out)
{
    struct mentry *e;
    return lookup(cp, t, model, seq, out, &e);
}

/* ,"model_at":{..}: ldg_query_model_at_json's object, compact, with one
 * reference (the caller's). */
static struct q_mtext *
render(const char *model, const struct ldg_model_at *m)
{
    json_t *o = ldg_query_model_at_json(model, m);
    char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
    struct q_mtext *x = NULL;
    json_decref(o);
    if (txt == NULL)
        return NULL;
    x = malloc(sizeof *x + strlen(txt) + 13);
    if (x != NULL) {
        x->refs = 1;
        sprintf(x->s, ",\"model_at\":%s", txt);
    }
    free(txt);
    return x;
}

void
q_mtext_drop(struct q_mtext *x)
{
    if (x != NULL && --x->refs == 0)
        free(x);
}

int
q_modelcache_text(struct q_modelcache **cp, struct ldg_txn *t,
                  const char *model, uint64_t seq, struct q_mtext **out)
{
    struct q_modelcache *c = cache_for(cp, t);
    struct ldg_model_at m;
    struct mentry *e;
    uint64_t lo, hi;
    int rc;

    *out = NULL;
    if (c == NULL)
        return LDG_ENOMEM;
    /* the next event of a scan, in the range the last answer holds for */
    if ((e = cached(c, model)) != NULL && e->text != NULL &&
        seq >= e->text_lo && seq < e->text_hi) {
        e->text->refs++;
        *out = e->text;
        return 0;
    }
    if (e == NULL) { /* read the model's history into the cache */
        if ((rc = lookup(cp, t, model, seq, &m, &e)) < 0)
            return rc;
        if (e == NULL) { /* the cache is full: for this event only */
            *out = render(model, &m);
            return *out ? 0 : LDG_ENOMEM;
        }
    }
    if ((rc = answer_range(c, e, seq, &m, &lo, &hi)) < 0)
        return rc;
    /* answer_range() zeroes the struct first: equal answers compare
     * equal */
    if (e->text == NULL || memcmp(&e->last, &m, sizeof m) != 0) {
        struct q_mtext *x = render(model, &m);
        if (x == NULL)
            return LDG_ENOMEM;
        q_mtext_drop(e->text);
        e->text = x;
        e->last = m;
    }
    e->text_lo = lo;
    e->text_hi = hi;
    e->text->refs++;
    *out = e->text;
    return 0;
}

int
ldg_query_model_at(struct ldg_txn *t, const char *model, uint64_t seq,
                   struct ldg_model_at *out)
{
    struct q_modelcache *c = NULL;
    int rc;

    if (t == NULL || model == NULL || out == NULL)
        return LDG_EINVAL;
    rc = q_modelcache_lookup(&c, t, model, seq, out);
    q_modelcache_free(c);
    return rc;
}

struct ldg_query_models {
    struct ldg_txn *t;
    struct q_modelcache *c;
};

int
ldg_query_models_new(struct ldg_query_models **out, struct ldg_txn *t)
{
    if (out == NULL || t == NULL)
        return LDG_EINVAL;
    *out = calloc(1, sizeof **out);
    if (*out == NULL)
        return LDG_ENOMEM;
    (*out)->t = t;
    return 0;
}

int
ldg_query_models_at(struct ldg_query_models *c, const char *model, uint64_t seq,
                    struct ldg_model_at *out)
{
    if (c == NULL || model == NULL || out == NULL)
        return LDG_EINVAL;
    return q_modelcache_lookup(&c->c, c->t, model, seq, out);
}

void
ldg_query_models_rebind(struct ldg_query_models *c, struct ldg_txn *t)
{
    if (c != NULL && t != NULL) {
        /* what the cache read belongs to the transaction that ended: its
         * cursors go now, and t takes the cache on only if its snapshot
         * is the same (cache_for), never because t has the ended one's
         * address (a handle hands its kept reader's view out again) */
        q_modelcache_detach(c->c);
        c->t = t;
    }
}

void
ldg_query_models_free(struct ldg_query_models *c)
{
    if (c == NULL)
        return;
    q_modelcache_free(c->c);
    free(c);
}

int
q_model_at_text(struct q_modelcache **mc, struct ldg_txn *t,
                const struct ldg_event *ev, const json_t *body,
                const uint8_t *rec, size_t rec_len, char **out)
{
    struct q_mtext *x;
    int rc = q_model_at_ref(mc, t, ev, body, rec, rec_len, &x);
    *out = NULL;
    if (rc < 0 || x == NULL)
        return rc;
    *out = strdup(x->s);
    q_mtext_drop(x);
    return *out != NULL ? 0 : LDG_ENOMEM;
}

int
q_model_at_ref(struct q_modelcache **mc, struct ldg_txn *t,
               const struct ldg_event *ev, const json_t *body,
               const uint8_t *rec, size_t rec_len, struct q_mtext **out)
{
    const char *field = q_model_field(ev->type), *model;
    struct q_modelcache *c;
    struct ldg_slice s;
    json_t *own = NULL;
    char *name, small[128];
    int rc;

    *out = NULL;
    if (field == NULL)
        return 0;
    if (body == NULL && rec != NULL &&
        (rc = ldg_body_record_str(rec, rec_len, field, &s)) != 2) {
        /* the one field read in place (as the C string jansson would
         * give); the usual short name without an allocation */
        size_t n;
        if (rc != 1)
            return rc < 0 ? rc : 0;
        n = strnlen(s.p, s.n);
        if (n < sizeof small) {
            memcpy(small, s.p, n);
            small[n] = '\0';
            return q_modelcache_text(mc, t, small, ev->seq, out);
        }
        name = strndup(s.p, n);
    } else if (body == NULL && rec != NULL && (c = cache_for(mc, t)) != NULL &&
               c->view != NULL &&
               ldg_body_view_set_record(c->view, rec, rec_len) == 0) {
        /* the name read in place (as the C string jansson would give) */
        if (!ldg_body_view_str(c->view, field, &s))
            return 0;
        name = strndup(s.p, s.n);
    } else {
        if (body == NULL) {
            rc = ldg_body_get(t, ev->seq, &own);
            if (rc == LDG_EERASED)
                return 0;
            if (rc < 0)
                return rc;
            body = own;
        }
        model = json_string_value(json_object_get(body, field));
        if (model == NULL) {
            json_decref(own);
            return 0;
        }
        name = strdup(model);
        json_decref(own);
    }
    if (name == NULL)
        return LDG_ENOMEM;
    rc = q_modelcache_text(mc, t, name, ev->seq, out);
    free(name);
    return rc;
}

const char *
q_model_field(const char *type)
{
    if (strcmp(type, LDG_EV_ROUTE_DECISION) == 0)
        return "chosen_model";
    if (strcmp(type, LDG_EV_EVAL_STARTED) == 0 ||
        strcmp(type, LDG_EV_EVAL_RESULT) == 0 ||
        strcmp(type, LDG_EV_PROMOTION_PROMOTED) == 0 ||
        strcmp(type, LDG_EV_PROMOTION_REJECTED) == 0)
        return "candidate";
    if (strcmp(type, LDG_EV_PROMOTION_ROLLED_BACK) == 0)
        return "to";
    return NULL;
}

const char *
ldg_query_model_of(const char *type, const json_t *body)
{
    const char *field = q_model_field(type);
    if (field == NULL || body == NULL)
        return NULL;
    return json_string_value(json_object_get(body, field));
}

json_t *
ldg_query_model_at_json(const char *model, const struct ldg_model_at *m)
{
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    json_object_set_new(o, "model", json_string(model));
    json_object_set_new(o, "digest",
                        m->known ? json_string(m->digest) : json_null());
    if (m->known)
        json_object_set_new(
            o, "registered_seq",
            json_sprintf("%llu", (unsigned long long)m->registered_seq));
    json_object_set_new(o, "verified", json_boolean(m->verified));
    json_object_set_new(o, "ever_verified", json_boolean(m->ever_verified));
    if (m->ever_verified)
        json_object_set_new(
            o, "verified_seq",
            json_sprintf("%llu", (unsigned long long)m->verified_seq));
    return o;
}

int
ldg_query_model_latest(const char *name, char *buf, size_t cap)
{
    return name != NULL && strchr(name, ':') == NULL &&
           (size_t)snprintf(buf, cap, "%s:latest", name) < cap;
}
