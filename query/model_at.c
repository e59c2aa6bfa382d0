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
 * read transaction (its snapshot).
 */
#include <stdlib.h>
#include <string.h>

#include "query/query_int.h"

#define MC_MODELS_MAX 256 /* models cached; more are looked up uncached */

struct mrec {
    uint64_t seq;
    char digest[LDG_MODEL_DIGEST_MAX + 1];
};

struct mentry {
    char *model;
    struct mrec *reg, *ver; /* registrations; successful verifications */
    size_t nreg, nver;
};

struct q_modelcache {
    struct ldg_txn *t;
    struct mentry *e;
    size_t n;
};

static void
entry_release(struct mentry *e)
{
    free(e->model);
    free(e->reg);
    free(e->ver);
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
    free(c);
}

static int
push(struct mrec **a, size_t *n, uint64_t seq, const char *digest)
{
    struct mrec *na = realloc(*a, (*n + 1) * sizeof **a);
    if (na == NULL)
        return LDG_ENOMEM;
    *a = na;
    na[*n].seq = seq;
    snprintf(na[*n].digest, sizeof na[*n].digest, "%s", digest);
    (*n)++;
    return 0;
}

/* Reads model's model.registered and model.verified events (seq order). */
static int
load(struct ldg_txn *t, const char *model, struct mentry *e)
{
    struct ldg_query *q = NULL;
    struct ldg_query_iter *it = NULL;
    struct ldg_event ev;
    char subj[LDG_SUBJECT_MAX + 16], ty1[] = "type=model.registered",
                                     ty2[] = "type=model.verified", err[256];
    char *terms[] = {subj, ty1, ty2};
    int rc;

    if (strlen(model) > LDG_SUBJECT_MAX - 6)
        return 0; /* no subject can name it: never registered */
    snprintf(subj, sizeof subj, "subject=model:%s", model);
    rc = ldg_query_compile(&q, 3, terms, NULL, NULL, err, sizeof err);
    if (rc < 0)
        return rc == LDG_EBADINPUT ? 0 : rc; /* a name no term can hold */
    if ((rc = ldg_query_iter_new(&it, q, t, 0)) < 0)
        goto out;
    while ((rc = ldg_query_iter_next(it, &ev)) == 0) {
        json_t *body = NULL;
        const char *d;
        int reg = strcmp(ev.type, "model.registered") == 0;
        if (ldg_body_get(t, ev.seq, &body) < 0)
            continue; /* erased: it says nothing any more */
        d = json_string_value(json_object_get(body, "digest"));
        if (d != NULL && strlen(d) <= LDG_MODEL_DIGEST_MAX) {
            if (reg)
                rc = push(&e->reg, &e->nreg, ev.seq, d);
            else if (json_is_true(json_object_get(body, "ok")))
                rc = push(&e->ver, &e->nver, ev.seq, d);
        }
        json_decref(body);
        if (rc < 0)
            goto out;
    }
    if (rc == LDG_ENOTFOUND)
        rc = 0;
out:
    ldg_query_iter_free(it);
    ldg_query_free(q);
    return rc;
}

static void
answer(const struct mentry *e, uint64_t seq, struct ldg_model_at *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < e->nreg && e->reg[i].seq <= seq; i++) {
        out->known = 1;
        out->registered_seq = e->reg[i].seq;
        snprintf(out->digest, sizeof out->digest, "%s", e->reg[i].digest);
    }
    if (!out->known)
        return;
    for (size_t i = 0; i < e->nver; i++) {
        if (strcmp(e->ver[i].digest, out->digest) != 0)
            continue;
        if (!out->ever_verified) {
            out->ever_verified = 1;
            out->verified_seq = e->ver[i].seq;
        }
        if (e->ver[i].seq <= seq)
            out->verified = 1;
    }
}

int
q_modelcache_lookup(struct q_modelcache **cp, struct ldg_txn *t,
                    const char *model, uint64_t seq, struct ldg_model_at *out)
{
    struct q_modelcache *c = *cp;
    struct mentry one, *e = NULL;
    int rc;

    if (c != NULL && c->t != t) { /* another snapshot: start again */
        q_modelcache_free(c);
        c = *cp = NULL;
    }
    if (c == NULL) {
        c = calloc(1, sizeof *c);
        if (c == NULL)
            return LDG_ENOMEM;
        c->t = t;
        *cp = c;
    }
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->e[i].model, model) == 0) {
            answer(&c->e[i], seq, out);
            return 0;
        }
    memset(&one, 0, sizeof one);
    if ((rc = load(t, model, &one)) < 0) {
        entry_release(&one);
        return rc;
    }
    answer(&one, seq, out);
    if (c->n < MC_MODELS_MAX) {
        struct mentry *ne = realloc(c->e, (c->n + 1) * sizeof *ne);
        one.model = strdup(model);
        if (ne != NULL && one.model != NULL) {
            c->e = ne;
            e = &c->e[c->n++];
            *e = one;
            return 0;
        }
        if (ne != NULL)
            c->e = ne;
    }
    entry_release(&one);
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
ldg_query_models_free(struct ldg_query_models *c)
{
    if (c == NULL)
        return;
    q_modelcache_free(c->c);
    free(c);
}

const char *
ldg_query_model_of(const char *type, const json_t *body)
{
    const char *field = NULL;

    if (strcmp(type, "route.decision") == 0)
        field = "chosen_model";
    else if (strcmp(type, "eval.started") == 0 ||
             strcmp(type, "eval.result") == 0 ||
             strcmp(type, "promotion.promoted") == 0 ||
             strcmp(type, "promotion.rejected") == 0)
        field = "candidate";
    else if (strcmp(type, "promotion.rolled_back") == 0)
        field = "to";
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
