/*
 * verify_listing.c — what the bundle lists agrees with what it proves
 * (chain, erasures, events.jsonl, the manifest's events, state, redactions)
 * (`ledger verify-bundle`; the flow is in verify.c, the shared context in
 * verify_int.h).
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

/* ------------------------------------------------- event-level checks -- */

static int cmp_u64(const void *a, const void *b);

struct sealpos {
    uint64_t seal, seq, leaf;
};

static int
cmp_sealpos(const void *a, const void *b)
{
    const struct sealpos *x = a, *y = b;
    if (x->seal != y->seal)
        return x->seal < y->seal ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Format 2 (docs/format-bundle.md section 12): the included events of one
 * seal hold its leaves in seq order, and between two of them there are
 * at least as many entries as leaves (the seal's other events, adjacent
 * or not). Each event's own proof cannot show this: a claim placed at two
 * seqs, or two events swapped, would each still prove against the seal. */
static void
seal_order(struct vctx *v, struct fails *fs)
{
    struct sealpos *p;
    size_t n = 0;

    p = malloc((v->nev ? v->nev : 1) * sizeof *p);
    if (p == NULL) {
        bv_fail_add(fs, "%s checking the seals' order", bv_nomem());
        return;
    }
    for (size_t i = 0; i < v->nev; i++)
        if (v->ev[i].decoded && v->ev[i].ev.sealed)
            p[n++] = (struct sealpos){v->ev[i].ev.seal_seq, v->ev[i].seq,
                                      v->ev[i].ev.seal_leaf};
    LDG_ASSERT(n <= v->nev);
    qsort(p, n, sizeof *p, cmp_sealpos);
    for (size_t i = 1; i < n; i++) {
        const struct sealpos *a = &p[i - 1], *b = &p[i];
        LDG_ASSERT(a->seal <= b->seal);
        if (a->seal != b->seal)
            continue;
        if (b->leaf <= a->leaf || b->leaf - a->leaf > b->seq - a->seq)
            bv_fail_add(fs,
                        "event %llu: leaf %llu of seal %llu cannot follow "
                        "event %llu's leaf %llu (a seal's events are in seq "
                        "order, one leaf each)",
                        (unsigned long long)b->seq, (unsigned long long)b->leaf,
                        (unsigned long long)b->seal, (unsigned long long)a->seq,
                        (unsigned long long)a->leaf);
    }
    free(p);
}

void
bv_report_pass(struct vctx *v)
{
    struct fails fp = {{0}, 0}, fs = {{0}, 0}, fb = {{0}, 0}, fc = {{0}, 0};
    uint64_t links = 0;

    for (size_t i = 0; i < v->nev; i++) {
        struct vev *e = &v->ev[i];
        if (!e->proof_ok)
            bv_fail_add(&fp, "%s", e->why_proof);
        if (!e->sig_ok)
            bv_fail_add(&fs, "%s", e->why_sig);
        if (!e->body_ok)
            bv_fail_add(&fb, "%s", e->why_body);
        else if (e->decoded && e->bstate != BS_FULL &&
                 (strcmp(e->ev.type, LDG_EV_LEDGER_GENESIS) == 0 ||
                  strncmp(e->ev.type, "key.", 4) == 0 ||
                  strcmp(e->ev.type, LDG_EV_BODY_ERASED) == 0))
            bv_fail_add(&fb, "event %llu: a %s body cannot be %s",
                        (unsigned long long)e->seq, e->ev.type,
                        bv_bstate_name[e->bstate]);
        if (e->seq == 0 && e->decoded) {
            static const uint8_t zero[32];
            if (memcmp(e->ev.prev, zero, 32) != 0)
                bv_fail_add(&fc, "event 0: prev is not zero");
        }
        if (i > 0 && v->ev[i - 1].seq + 1 == e->seq && e->decoded &&
            v->ev[i - 1].decoded) {
            links++;
            if (memcmp(e->ev.prev, v->ev[i - 1].ev.leaf, 32) != 0)
                bv_fail_add(&fc,
                            "event %llu: prev is not the leaf hash of "
                            "event %llu",
                            (unsigned long long)e->seq,
                            (unsigned long long)v->ev[i - 1].seq);
        }
    }
    bv_check_fails(v->r, "proofs", &fp,
                   "%zu inclusion proofs against the "
                   "checkpoint of size %llu",
                   v->nev, (unsigned long long)v->cksize);
    {
        /* format 2: a seal or seal proof no included sealed entry uses
         * is not the bundle's to carry */
        size_t nsealed = 0, nused = 0;
        uint64_t *sealseqs = malloc((v->nev ? v->nev : 1) * sizeof *sealseqs);
        if (sealseqs == NULL)
            bv_fail_add(&fs, "%s checking the seals", bv_nomem());
        for (size_t i = 0; i < v->nev; i++) {
            int sealed = v->ev[i].decoded && v->ev[i].ev.sealed;
            nsealed += sealed;
            if (sealed && sealseqs != NULL)
                sealseqs[nused++] = v->ev[i].ev.seal_seq;
        }
        if (sealseqs != NULL)
            qsort(sealseqs, nused, sizeof *sealseqs, cmp_u64);
        /* by lookup, not by a walk of the events per member: a bundle of
         * 20,000 sealed events has as many seal proofs */
        for (size_t m = 0; m < v->b.n && sealseqs != NULL; m++) {
            uint64_t n;
            enum bname k = bundle_name_kind(v->b.m[m].name, &n);
            const struct vev *e;
            int used;
            if (k != BN_SEAL && k != BN_SEAL_PROOF)
                continue;
            if (k == BN_SEAL)
                used = bsearch(&n, sealseqs, nused, sizeof *sealseqs,
                               cmp_u64) != NULL;
            else
                used = (e = bv_find_ev(v, n)) != NULL && e->decoded &&
                       e->ev.sealed;
            if (!used)
                bv_fail_add(&fs, "%s: no sealed event of the bundle is %s",
                            v->b.m[m].name,
                            k == BN_SEAL ? "under this seal" : "this one");
        }
        free(sealseqs);
        if (nsealed > 1)
            seal_order(v, &fs);
        if (nsealed == 0)
            bv_check_fails(v->r, "signatures", &fs,
                           "%zu entry signatures, each by a key valid at that "
                           "event",
                           v->nev);
        else
            bv_check_fails(v->r, "signatures", &fs,
                           "%zu events vouched for by a key valid at each: %zu "
                           "sealed (claim digest, seal proof, seal signature), "
                           "%zu signed; %llu seal signature checks for %zu "
                           "seals%s",
                           v->nev, nsealed, v->nev - nsealed,
                           __atomic_load_n(&v->seal_sigs, __ATOMIC_RELAXED),
                           v->nseals,
                           __atomic_load_n(&v->epoch_seals, __ATOMIC_RELAXED)
                               ? " (a seal by an epoch key: its "
                                 "signature in the epochs check)"
                               : "");
    }
    bv_check_fails(v->r, "chain", &fc, "%llu links between consecutive events",
                   (unsigned long long)links);
    bv_check_fails(v->r, "bodies", &fb,
                   "%zu bodies or their digests match "
                   "their commitments",
                   v->nev);
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Every erased body needs a proven, validly signed body.erased naming it
 * at a later seq. */
void
bv_check_erasures(struct vctx *v)
{
    struct fails f = {{0}, 0};
    uint64_t n = 0, (*ok)[2] = NULL; /* {target, erasure seq} */
    size_t nok = 0;

    for (size_t j = 0; j < v->nev; j++) {
        struct vev *x = &v->ev[j];
        json_t *t;
        if (!x->decoded || strcmp(x->ev.type, LDG_EV_BODY_ERASED) != 0 ||
            !x->proof_ok || !x->sig_ok || !x->body_ok || x->bstate != BS_FULL)
            continue;
        t = json_object_get(x->shown, "target_seq");
        if (!json_is_integer(t) || json_integer_value(t) < 0)
            continue;
        if (ok == NULL)
            ok = malloc(v->nev * sizeof *ok);
        if (ok == NULL)
            break;
        ok[nok][0] = (uint64_t)json_integer_value(t);
        ok[nok][1] = x->seq;
        nok++;
    }
    if (nok > 0)
        qsort(ok, nok, sizeof *ok, cmp_u64); /* by target (first word) */
    for (size_t i = 0; i < v->nev; i++) {
        struct vev *e = &v->ev[i];
        uint64_t(*hit)[2];
        if (!e->body_ok || e->bstate != BS_ERASED)
            continue;
        n++;
        hit = nok ? bsearch(&e->seq, ok, nok, sizeof *ok, cmp_u64) : NULL;
        /* several erasures of one target: any later one will do */
        while (hit != NULL && hit > ok && hit[-1][0] == e->seq)
            hit--;
        while (hit != NULL && hit < ok + nok && (*hit)[0] == e->seq &&
               (*hit)[1] <= e->seq)
            hit++;
        if (hit == NULL || hit == ok + nok || (*hit)[0] != e->seq)
            bv_fail_add(&f,
                        "event %llu: the body is missing and no proven "
                        "body.erased in the bundle names it",
                        (unsigned long long)e->seq);
    }
    free(ok);
    v->r->bodies_erased = n;
    bv_check_fails(v->r, "erasures", &f,
                   "%llu erased bod%s, each backed by a "
                   "proven body.erased",
                   (unsigned long long)n, n == 1 ? "y" : "ies");
}

/* A shown body's string field k equal to want. */
static int
shown_is(const struct vev *r, const char *k, const char *want)
{
    const char *got = r->shown ? bv_jstr(r->shown, k) : NULL;
    return got != NULL && want != NULL && strcmp(got, want) == 0;
}

/* Whether support event r is of model: its body's "model" is that name,
 * or, for a name without a tag, "NAME:latest" (Ollama's reading, which
 * model_at follows when only that one is registered). */
static int
of_model(const struct vev *r, const char *model)
{
    char alt[LDG_SUBJECT_MAX + 16];
    if (shown_is(r, "model", model))
        return 1;
    return ldg_query_model_latest(model, alt, sizeof alt) &&
           shown_is(r, "model", alt);
}

/* "model_at" on an events.jsonl line (docs/EXPORT.md): it names the model
 * the event's own body names, and its digest and verification are backed
 * by proven events of the bundle: registered_seq a model.registered of
 * that model with that digest before the event, verified_seq a
 * model.verified of that model and digest with ok true, "verified" true
 * exactly when that is not after the event. That no later registration
 * came between is the exporter's word (signed with the manifest). */
static int
model_at_backed(struct vctx *v, const struct vev *e, const json_t *ma,
                char *why, size_t cap)
{
    static const char *const keys[] = {
        "model",        "digest", "registered_seq", "verified", "ever_verified",
        "verified_seq", NULL};
    const char *model =
        e->shown ? ldg_query_model_of(e->ev.type, e->shown) : NULL;
    const char *d = bv_jstr(ma, "digest"), *key;
    unsigned long long seq = (unsigned long long)e->seq;
    json_t *val;
    uint64_t rs = 0, vs = 0;
    const struct vev *r;
    int ever = json_is_true(json_object_get(ma, "ever_verified"));

    if (model == NULL || !json_is_object(ma)) {
        snprintf(why, cap,
                 "events.jsonl: event %llu: model_at on an event that "
                 "names no model",
                 seq);
        return 0;
    }
    json_object_foreach((json_t *)(uintptr_t)ma, key, val)
    {
        size_t i;
        for (i = 0; keys[i] && strcmp(keys[i], key) != 0; i++)
            ;
        if (keys[i] == NULL) {
            snprintf(why, cap,
                     "events.jsonl: event %llu: model_at: unexpected key "
                     "'%.40s'",
                     seq, key);
            return 0;
        }
    }
    if (bv_jstr(ma, "model") == NULL ||
        strcmp(bv_jstr(ma, "model"), model) != 0 ||
        !json_is_boolean(json_object_get(ma, "verified")) ||
        !json_is_boolean(json_object_get(ma, "ever_verified"))) {
        snprintf(why, cap,
                 "events.jsonl: event %llu: model_at: not the event's "
                 "model '%.40s', or no verified/ever_verified",
                 seq, model);
        return 0;
    }
    if (d == NULL) {
        if (!json_is_null(json_object_get(ma, "digest")) || ever ||
            json_is_true(json_object_get(ma, "verified")) ||
            json_object_get(ma, "registered_seq") != NULL) {
            snprintf(why, cap,
                     "events.jsonl: event %llu: model_at without a digest "
                     "claims a registration or a verification",
                     seq);
            return 0;
        }
        return 1;
    }
    /* (before a pruned ledger's horizon: its archive holds the event) */
    if (bv_ju64(ma, "registered_seq", &rs) < 0 || rs >= e->seq ||
        (rs >= v->hz_seq &&
         ((r = bv_find_ev(v, rs)) == NULL || !r->decoded ||
          strcmp(r->ev.type, LDG_EV_MODEL_REGISTERED) != 0 ||
          !of_model(r, model) || !shown_is(r, "digest", d)))) {
        snprintf(why, cap,
                 "events.jsonl: event %llu: model_at: digest %.24s has no "
                 "model.registered of it before it in the bundle",
                 seq, d);
        return 0;
    }
    if (!ever) {
        if (json_is_true(json_object_get(ma, "verified")) ||
            json_object_get(ma, "verified_seq") != NULL) {
            snprintf(why, cap,
                     "events.jsonl: event %llu: model_at: verified but "
                     "never verified",
                     seq);
            return 0;
        }
        return 1;
    }
    if (bv_ju64(ma, "verified_seq", &vs) < 0 ||
        (vs >= v->hz_seq && ((r = bv_find_ev(v, vs)) == NULL || !r->decoded ||
                             strcmp(r->ev.type, LDG_EV_MODEL_VERIFIED) != 0 ||
                             !of_model(r, model) || !shown_is(r, "digest", d) ||
                             !json_is_true(json_object_get(r->shown, "ok")))) ||
        json_is_true(json_object_get(ma, "verified")) != (vs <= e->seq)) {
        snprintf(why, cap,
                 "events.jsonl: event %llu: model_at: verified_seq is no "
                 "model.verified ok of %.24s in the bundle, or 'verified' "
                 "disagrees",
                 seq, d);
        return 0;
    }
    return 1;
}

/* Whether e's line must carry "model_at": its body is whole and names a
 * model (route.decision's chosen_model, eval.*'s and promotion.promoted's
 * or rejected's candidate, promotion.rolled_back's to) in a bundle made
 * without redaction that declares its members' sizes. */
static int
model_at_due(const struct vctx *v, const struct vev *e)
{
    return v->model_at_due && e->bstate == BS_FULL && e->shown != NULL &&
           ldg_query_model_of(e->ev.type, e->shown) != NULL;
}

/* An events.jsonl line must show exactly the entry and disclosed body. */
static int
line_matches(struct vctx *v, const struct vev *e, json_t *line, char *why,
             size_t cap)
{
    json_t *env = envelope_json(&e->ev);
    const struct vkey *k = bv_find_key(v, e->ev.actor);
    const char *an = bv_jstr(line, "actor_name");
    unsigned long long seq = (unsigned long long)e->seq;
    int ok = 1;

    for (size_t i = 0; ok && envelope_keys[i]; i++) {
        json_t *a = json_object_get(env, envelope_keys[i]);
        json_t *b = json_object_get(line, envelope_keys[i]);
        if ((a == NULL) != (b == NULL) || (a && !json_equal(a, b))) {
            snprintf(why, cap,
                     "events.jsonl: event %llu: '%s' differs "
                     "from the entry",
                     seq, envelope_keys[i]);
            ok = 0;
        }
    }
    {
        const char *key;
        json_t *val;
        json_object_foreach(line, key, val)
        {
            int known =
                json_object_get(env, key) != NULL ||
                strcmp(key, "actor_name") == 0 ||
                (strcmp(key, "body") == 0 &&
                 (e->bstate == BS_FULL || e->bstate == BS_REDACTED)) ||
                (strcmp(key, "withheld") == 0 && e->bstate == BS_REDACTED) ||
                (strcmp(key, "body_withheld") == 0 &&
                 e->bstate == BS_WITHHELD) ||
                (strcmp(key, "erased") == 0 && e->bstate == BS_ERASED) ||
                (strcmp(key, "model_at") == 0 && e->bstate == BS_FULL &&
                 v->model_at_allowed);
            if (ok && !known) {
                snprintf(why, cap,
                         "events.jsonl: event %llu: unexpected key '%.40s'",
                         seq, key);
                ok = 0;
            }
        }
    }
    if (ok && e->bstate == BS_REDACTED &&
        !json_equal(json_object_get(line, "withheld"),
                    json_object_get(e->mrec, "withheld"))) {
        snprintf(why, cap,
                 "events.jsonl: event %llu: the withheld count differs from "
                 "the manifest's",
                 seq);
        ok = 0;
    }
    json_decref(env);
    if (ok && an != NULL && k != NULL && strcmp(an, k->actor) != 0) {
        snprintf(why, cap,
                 "events.jsonl: event %llu: actor_name is not "
                 "the key's",
                 seq);
        ok = 0;
    }
    if (ok && (e->bstate == BS_FULL || e->bstate == BS_REDACTED) &&
        !json_equal(json_object_get(line, "body"), e->shown)) {
        snprintf(why, cap,
                 "events.jsonl: event %llu: the body differs "
                 "from the committed fields",
                 seq);
        ok = 0;
    }
    if (ok && json_object_get(line, "model_at") != NULL &&
        !model_at_backed(v, e, json_object_get(line, "model_at"), why, cap))
        ok = 0;
    if (ok && json_object_get(line, "model_at") == NULL && model_at_due(v, e)) {
        snprintf(why, cap,
                 "events.jsonl: event %llu: no model_at (a bundle made "
                 "without redaction gives it for every %s whose body names "
                 "a model)",
                 seq, e->ev.type);
        ok = 0;
    }
    if (ok && e->bstate == BS_ERASED &&
        !json_is_true(json_object_get(line, "erased"))) {
        snprintf(why, cap, "events.jsonl: event %llu: not shown as erased",
                 seq);
        ok = 0;
    }
    if (ok && e->bstate == BS_WITHHELD &&
        (json_object_get(line, "body") != NULL ||
         !json_is_true(json_object_get(line, "body_withheld")))) {
        snprintf(why, cap,
                 "events.jsonl: event %llu: not shown as "
                 "withheld",
                 seq);
        ok = 0;
    }
    return ok;
}

/* events.jsonl, line i against the i-th selected event (worker side). */
struct jline {
    const char *p;
    size_t len;
    struct vev *e;
    int bad;
    char why[WHY_MAX];
};

/* The line exactly as the exporter writes it (format-bundle.md, 5), from
 * the verified entry, the disclosed fields and the manifest's record. */
static void
expected_line(struct vctx *v, const struct vev *e, struct ldg_buf *b)
{
    const struct vkey *k = bv_find_key(v, e->ev.actor);

    gb_envelope(b, &e->ev);
    if (k != NULL) {
        ldg_buf_puts(b, ",\"actor_name\":");
        gb_jstr(b, k->actor);
    }
    if (e->bstate == BS_ERASED) {
        ldg_buf_puts(b, ",\"erased\":true}");
        return;
    }
    if (e->bstate == BS_WITHHELD) {
        ldg_buf_puts(b, ",\"body_withheld\":true}");
        return;
    }
    /* one dump of the disclosed fields, in their order in the body member */
    ldg_buf_puts(b, ",\"body\":");
    gb_value(b, e->shown);
    if (e->bstate == BS_REDACTED) {
        ldg_buf_puts(b, ",\"withheld\":");
        gb_value(b, json_object_get(e->mrec, "withheld"));
    }
    ldg_buf_puts(b, "}");
}

static void
jsonl_one(struct vctx *v, size_t i, struct wctx *w)
{
    struct jline *jl = &v->jl[i];
    struct ldg_buf own = {0}, *want = w ? &w->buf : &own;
    json_t *line = NULL;

    /* Fast path: the exporter's own bytes. Anything else is compared as
     * JSON values below, which also says what differs. */
    if (jl->e->decoded && jl->e->body_ok && !model_at_due(v, jl->e)) {
        want->len = 0;
        want->err = 0;
        expected_line(v, jl->e, want);
        if (!want->err && want->len == jl->len &&
            memcmp(want->p, jl->p, jl->len) == 0)
            goto out;
    }
    line = json_loadb(jl->p, jl->len, JSON_REJECT_DUPLICATES, NULL);

    if (line == NULL) {
        jl->bad = 1;
        snprintf(jl->why, WHY_MAX, "events.jsonl: line %zu is not JSON", i + 1);
    } else if (!jl->e->decoded || !jl->e->body_ok) {
        /* reported by proofs/bodies */
    } else if (!line_matches(v, jl->e, line, jl->why, WHY_MAX)) {
        jl->bad = 1;
    }
out:
    json_decref(line);
    free(own.p);
    /* the last use of the disclosed fields: free them here, in parallel
     * (but model.* events back other lines' "model_at": kept) */
    if (strncmp(jl->e->ev.type, "model.", 6) != 0 || !jl->e->decoded) {
        json_decref(jl->e->shown);
        jl->e->shown = NULL;
    }
}

static void
check_jsonl(struct vctx *v, struct fails *f, uint64_t nselected)
{
    const struct bmember *m = bundle_get(&v->b, B_EVENTS);
    const char *p, *end;
    size_t nlines = 0, n = 0, k = 0;

    if (m == NULL) {
        bv_fail_add(f, "no events.jsonl");
        return;
    }
    p = (const char *)m->data;
    end = p + m->len;
    if (m->len > 0 && end[-1] != '\n') {
        bv_fail_add(f, "events.jsonl: the last line has no newline");
        return;
    }
    for (const char *q = p; q < end; q++)
        nlines += *q == '\n';
    if (nlines != nselected)
        bv_fail_add(f, "events.jsonl has %zu lines for %llu selected events",
                    nlines, (unsigned long long)nselected);
    v->jl = calloc(nlines ? nlines : 1, sizeof *v->jl);
    if (v->jl == NULL) {
        bv_fail_add(f, "%s", bv_nomem());
        return;
    }
    /* pair line i with the i-th selected event, in seq order */
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        while (k < v->nev &&
               !(v->ev[k].mrec &&
                 strcmp(bv_jstr(v->ev[k].mrec, "role"), "selected") == 0))
            k++;
        if (k == v->nev)
            break;
        v->jl[n].p = p;
        v->jl[n].len = (size_t)(nl - p);
        v->jl[n].e = &v->ev[k++];
        n++;
        p = nl + 1;
    }
    bv_pfor_run(v, n, jsonl_one);
    for (size_t i = 0; i < n; i++)
        if (v->jl[i].bad)
            bv_fail_add(f, "%s", v->jl[i].why);
}

/* A manifest record's "withheld": the count as a decimal string (what
 * the exporter writes: names never leave the box), or, in bundles written
 * before November 2026, the array of withheld names. (size_t)-1 if it is
 * neither. */
static size_t
withheld_count(const json_t *wn)
{
    const char *s = json_string_value(wn);
    size_t n = 0;
    if (json_is_array(wn))
        return json_array_size(wn);
    if (s == NULL || *s == '\0' || strlen(s) > 6 || (s[0] == '0' && s[1]))
        return (size_t)-1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return (size_t)-1;
        n = n * 10 + (size_t)(*s - '0');
    }
    return n;
}

/* An erased body's record names the body.erased that erased it
 * ("erased_by"), an event in the bundle erasing this seq; no other record
 * has one. NULL if it holds, else why not. */
static const char *
erased_by_wrong(struct vctx *v, const struct vev *e, const json_t *rec)
{
    const json_t *eb = json_object_get(rec, "erased_by");
    const struct vev *x;
    const json_t *t;
    uint64_t by;

    if (e->bstate != BS_ERASED)
        return eb ? "the manifest names an erased_by for a body that is "
                    "not erased"
                  : NULL;
    if (eb == NULL || bv_ju64(rec, "erased_by", &by) < 0)
        return "erased, but the manifest names no valid erased_by";
    x = bv_find_ev(v, by);
    t = x && x->decoded && x->body_ok &&
                strcmp(x->ev.type, LDG_EV_BODY_ERASED) == 0
            ? json_object_get(x->shown, "target_seq")
            : NULL;
    if (!json_is_integer(t) || json_integer_value(t) < 0 ||
        (uint64_t)json_integer_value(t) != e->seq)
        return "the manifest's erased_by is not a body.erased in the "
               "bundle naming this event";
    return NULL;
}

/* Whether the manifest's "redaction" declares none: {"fields": "0" (or,
 * before November 2026, []), "body_types": []}. */
static int
no_redaction(const json_t *manifest)
{
    const json_t *red = json_object_get(manifest, "redaction");
    const json_t *fl = json_object_get(red, "fields");
    const json_t *bt = json_object_get(red, "body_types");
    int nofields =
        (json_is_string(fl) && strcmp(json_string_value(fl), "0") == 0) ||
        (json_is_array(fl) && json_array_size(fl) == 0);
    return nofields && json_is_array(bt) && json_array_size(bt) == 0;
}

/* The manifest's event list and counts against the entries present. */
void
bv_check_events(struct vctx *v)
{
    const json_t *list = json_object_get(v->manifest, "events");
    const json_t *counts = json_object_get(v->manifest, "counts");
    struct fails f = {{0}, 0};
    uint64_t prev = 0, nsel = 0, nsup = 0, c;
    uint64_t nb[4] = {0, 0, 0, 0}, fw = 0;
    int allbodies = 1; /* else the counts are the bodies check's finding */
    size_t i;
    const json_t *rec;

    v->model_at_allowed = no_redaction(v->manifest);
    v->model_at_due =
        v->model_at_allowed && json_object_get(v->manifest, "sizes") != NULL;
    json_array_foreach(list, i, rec)
    {
        uint64_t seq;
        const char *role = bv_jstr(rec, "role"), *body = bv_jstr(rec, "body");
        const char *type = bv_jstr(rec, "type");
        struct vev *e;
        if (bv_ju64(rec, "seq", &seq) < 0 || role == NULL || body == NULL ||
            type == NULL ||
            (strcmp(role, "selected") != 0 && strcmp(role, "support") != 0)) {
            bv_fail_add(&f, "manifest: event record %zu is malformed", i);
            continue;
        }
        if (i > 0 && seq <= prev)
            bv_fail_add(&f,
                        "manifest: events are not in increasing order at "
                        "event %llu",
                        (unsigned long long)seq);
        prev = seq;
        e = bv_find_ev(v, seq);
        if (e == NULL) {
            bv_fail_add(&f,
                        "event %llu: listed in the manifest but not in "
                        "the bundle",
                        (unsigned long long)seq);
            continue;
        }
        if (e->mrec != NULL)
            continue; /* duplicate: reported as out of order */
        e->mrec = rec;
        if (strcmp(role, "selected") == 0) {
            if (nsel == 0 || seq < v->r->sel_first)
                v->r->sel_first = seq;
            if (nsel == 0 || seq > v->r->sel_last)
                v->r->sel_last = seq;
            nsel++;
        } else {
            nsup++;
        }
        if (e->decoded && strcmp(type, e->ev.type) != 0)
            bv_fail_add(&f, "event %llu: the manifest says %s, the entry %s",
                        (unsigned long long)seq, type, e->ev.type);
        allbodies &= e->body_ok;
        if (e->body_ok) {
            const json_t *wn = json_object_get(rec, "withheld");
            const char *why = erased_by_wrong(v, e, rec);
            if (why != NULL)
                bv_fail_add(&f, "event %llu: %s", (unsigned long long)seq, why);
            else if (wn != NULL && e->bstate != BS_REDACTED)
                bv_fail_add(&f,
                            "event %llu: the manifest gives a withheld count "
                            "for a body that is %s",
                            (unsigned long long)seq, bv_bstate_name[e->bstate]);
            nb[e->bstate]++;
            fw += e->bstate == BS_REDACTED ? e->nwithheld : 0;
            if (v->model_at_allowed &&
                (e->bstate == BS_REDACTED || e->bstate == BS_WITHHELD))
                bv_fail_add(&f,
                            "event %llu: its body is %s, but the manifest's "
                            "redaction declares nothing withheld",
                            (unsigned long long)seq, bv_bstate_name[e->bstate]);
            if (strcmp(body, bv_bstate_name[e->bstate]) != 0)
                bv_fail_add(&f,
                            "event %llu: the manifest says its body is "
                            "%s, it is %s",
                            (unsigned long long)seq, body,
                            bv_bstate_name[e->bstate]);
            else if (e->bstate == BS_REDACTED &&
                     withheld_count(wn) != e->nwithheld)
                bv_fail_add(&f,
                            "event %llu: the manifest counts %zu withheld "
                            "fields, the body withholds %zu",
                            (unsigned long long)seq, withheld_count(wn),
                            e->nwithheld);
        }
    }
    for (size_t k = 0; k < v->nev; k++)
        if (v->ev[k].mrec == NULL)
            bv_fail_add(&f,
                        "event %llu: in the bundle but not listed in the "
                        "manifest",
                        (unsigned long long)v->ev[k].seq);
    if (bv_ju64(counts, "selected", &c) < 0 || c != nsel ||
        bv_ju64(counts, "support", &c) < 0 || c != nsup ||
        bv_ju64(counts, "entries", &c) < 0 || c != v->nev)
        bv_fail_add(&f,
                    "manifest counts (selected, support, entries) do not "
                    "match the bundle's %llu, %llu, %zu",
                    (unsigned long long)nsel, (unsigned long long)nsup, v->nev);
    if (allbodies) {
        static const char *const cn[] = {"bodies_full", "bodies_redacted",
                                         "bodies_withheld", "bodies_erased",
                                         "fields_withheld"};
        for (int j = 0; j < 5; j++) {
            uint64_t want = j < 4 ? nb[j] : fw;
            if (bv_ju64(counts, cn[j], &c) < 0 || c != want) {
                bv_fail_add(
                    &f, "manifest counts.%s is %s, the bodies give %llu", cn[j],
                    json_is_string(json_object_get(counts, cn[j]))
                        ? json_string_value(json_object_get(counts, cn[j]))
                        : "missing",
                    (unsigned long long)want);
                break;
            }
        }
        if (json_object_size(counts) != 8)
            bv_fail_add(&f, "manifest counts: %zu keys, the format has 8",
                        json_object_size(counts));
    }
    check_jsonl(v, &f, nsel);
    v->r->events = v->nev;
    v->r->selected = nsel;
    v->r->first_seq = v->nev ? UINT64_MAX : 0;
    v->r->last_seq = 0;
    for (size_t e = 0; e < v->nev; e++) {
        if (v->ev[e].seq < v->r->first_seq)
            v->r->first_seq = v->ev[e].seq;
        if (v->ev[e].seq > v->r->last_seq)
            v->r->last_seq = v->ev[e].seq;
    }
    v->r->bodies_withheld = nb[BS_WITHHELD];
    v->r->fields_withheld = fw;
    bv_check_fails(v->r, "events", &f,
                   "%llu selected and %llu support events "
                   "agree with the manifest and "
                   "events.jsonl",
                   (unsigned long long)nsel, (unsigned long long)nsup);
}

/*
 * The projected state. Its signed projection note (by the log key) binds
 * the log size to a digest per projection, over the projections' stored
 * records, and the doctor's over those (projections/engine.c). A bundle
 * carries the views, not the records, so what can be checked offline is
 * that the note is the log key's, for this origin and for the checkpoint's
 * size, and that the state is for that size; its content is vouched for by
 * the exporter through the manifest's signature.
 */
void
bv_check_state(struct vctx *v)
{
    const json_t *st = json_object_get(v->manifest, "state");
    const struct bmember *sj = bundle_get(&v->b, B_STATE);
    const struct bmember *sn = bundle_get(&v->b, B_STATE_NOTE);
    char want[LDG_ORIGIN_MAX + 64];
    json_t *state = v->state; /* parsed beside pass 1 */
    uint64_t size = 0;
    size_t tlen = 0;
    int rc;

    if (!json_is_true(json_object_get(st, "included"))) {
        if (sj != NULL || sn != NULL)
            bv_check(v->r, "state", LDG_CHECK_FAIL,
                     "state members are present "
                     "but the manifest says none "
                     "is included");
        else
            bv_check(v->r, "state", LDG_CHECK_SKIP,
                     "no projected state in the "
                     "bundle%s%s",
                     bv_jstr(st, "reason") ? ": " : "",
                     bv_jstr(st, "reason") ? bv_jstr(st, "reason") : "");
        return;
    }
    if (sj == NULL || state == NULL || !json_is_object(state) ||
        bv_ju64(state, "size", &size) < 0) {
        bv_check(v->r, "state", LDG_CHECK_FAIL,
                 "state/projections.json is missing or malformed");
        goto out;
    }
    if (!v->ck_ok || size != v->cksize) {
        bv_check(v->r, "state", LDG_CHECK_FAIL,
                 "the state is for log size %llu, the checkpoint for %llu",
                 (unsigned long long)size, (unsigned long long)v->cksize);
        goto out;
    }
    /* the manifest's own words about it (format-bundle.md section 7) */
    {
        uint64_t msize = 0;
        const char *scope = bv_jstr(st, "scope");
        const json_t *note = json_object_get(st, "note");
        if (bv_ju64(st, "size", &msize) < 0 || msize != size) {
            bv_check(v->r, "state", LDG_CHECK_FAIL,
                     "the manifest's state.size is %s, the state and the "
                     "checkpoint are for %llu",
                     bv_jstr(st, "size") ? bv_jstr(st, "size") : "missing",
                     (unsigned long long)size);
            goto out;
        }
        if (scope == NULL || strcmp(scope, "whole") != 0) {
            bv_check(v->r, "state", LDG_CHECK_FAIL,
                     "the manifest's state.scope is %s, not \"whole\" (the "
                     "state is never filtered)",
                     scope ? scope : "missing");
            goto out;
        }
        if (!json_is_null(note) &&
            (bv_jstr(st, "note") == NULL ||
             strcmp(bv_jstr(st, "note"), B_STATE_NOTE) != 0)) {
            bv_check(v->r, "state", LDG_CHECK_FAIL,
                     "the manifest's state.note is neither null nor \"%s\"",
                     B_STATE_NOTE);
            goto out;
        }
    }
    if (sn == NULL && bv_jstr(st, "note") != NULL) {
        bv_check(v->r, "state", LDG_CHECK_WARN,
                 "the manifest names the projection note %s but the bundle "
                 "lacks it: the state at size %llu is the exporter's "
                 "computation",
                 bv_jstr(st, "note"), (unsigned long long)size);
        goto out;
    }
    if (sn != NULL && bv_jstr(st, "note") == NULL) {
        bv_check(v->r, "state", LDG_CHECK_FAIL,
                 "the bundle holds a projection note the manifest does not "
                 "name");
        goto out;
    }
    if (sn == NULL) {
        bv_check(v->r, "state", LDG_CHECK_WARN,
                 "state at size %llu without a signed projection note: it is "
                 "the exporter's computation",
                 (unsigned long long)size);
        goto out;
    }
    if ((rc = ldg_note_verify_vkey(v->vkey, (const char *)sn->data, sn->len,
                                   &tlen)) < 0) {
        bv_check(v->r, "state", LDG_CHECK_FAIL, "%s",
                 rc == LDG_ENOMEM
                     ? bv_strerror(rc)
                     : "the projection note does not verify with the log key");
        goto out;
    }
    snprintf(want, sizeof want,
             "ledger-projections/v1\norigin %s\nsize "
             "%llu\n",
             v->r->origin, (unsigned long long)size);
    if (tlen < strlen(want) || memcmp(sn->data, want, strlen(want)) != 0) {
        bv_check(v->r, "state", LDG_CHECK_FAIL,
                 "the projection note is not for %s at size %llu", v->r->origin,
                 (unsigned long long)size);
        goto out;
    }
    bv_check(v->r, "state", LDG_CHECK_PASS,
             "at the checkpoint's size %llu, with the projection note the log "
             "key signed for it; the views themselves are the exporter's "
             "(signed through the manifest)",
             (unsigned long long)size);
out:
    return;
}

/* What was withheld, as the manifest states it and the bodies confirm. */
void
bv_check_redactions(struct vctx *v)
{
    const json_t *red = json_object_get(v->manifest, "redaction");
    char buf[LDG_BUNDLE_DETAIL_MAX] = "";
    size_t len = 0;

    /* The bundle counts withheld fields but never names them. */
    if (v->r->fields_withheld > 0) {
        size_t nev = 0;
        int w;
        for (size_t i = 0; i < v->nev; i++)
            nev += v->ev[i].bstate == BS_REDACTED;
        w = snprintf(buf, sizeof buf,
                     "fields withheld: %llu in %zu event%s (names not "
                     "disclosed)",
                     (unsigned long long)v->r->fields_withheld, nev,
                     nev == 1 ? "" : "s");
        if (w > 0 && (size_t)w < sizeof buf)
            len = (size_t)w;
    }
    if (v->r->bodies_withheld > 0 && len < sizeof buf) {
        const json_t *types = json_object_get(red, "body_types");
        char *t = json_dumps(types, JSON_COMPACT | JSON_ENCODE_ANY);
        int w =
            snprintf(buf + len, sizeof buf - len,
                     "%s%llu whole bodies withheld (types %s)", len ? "; " : "",
                     (unsigned long long)v->r->bodies_withheld, t ? t : "?");
        free(t);
        if (w > 0 && (size_t)w < sizeof buf - len)
            len += (size_t)w;
    }
    if (v->r->bodies_erased > 0 && len < sizeof buf) {
        int w =
            snprintf(buf + len, sizeof buf - len,
                     "%s%llu bodies erased "
                     "in the ledger",
                     len ? "; " : "", (unsigned long long)v->r->bodies_erased);
        if (w > 0 && (size_t)w < sizeof buf - len)
            len += (size_t)w;
    }
    bv_check(v->r, "redactions", LDG_CHECK_PASS, "%s",
             len ? buf : "none: every body is given whole");
}
