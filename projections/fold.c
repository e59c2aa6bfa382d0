/*
 * fold.c — the folds: one event in, records updated.
 *
 * Every projection is a pure function of the log prefix, so everything
 * here depends only on the event (envelope and body) and the records it
 * touches; never on the clock, the host or the order of rebuilds. Records
 * hold facts taken from events (what was declared, granted, measured);
 * what follows from several facts (a pack's state, a route's readiness)
 * is derived when read (derive.c), so a change to one fact never has to
 * chase the records that depend on it.
 *
 * Erased bodies. body.erased removes an event's body but not its envelope
 * (type, subject, run link, time). A fold uses the envelope of every event
 * and the body only when it is there:
 *   - route.decision: counted for its route (from the subject) and run,
 *     with outcome and latency "unknown";
 *   - run.*: counted for the run (from the envelope's run link); a
 *     run.finished without body ends the run with status "unknown";
 *   - everything else needs body fields to mean anything and is skipped.
 * Since a rebuild must give the same state as the incremental folds, an
 * erasure of an event that fed a projection makes the engine replay the
 * log (applier.c).
 */
#include <stdlib.h>
#include <string.h>

#include "projections/proj_int.h"

#define ERRLIST_MAX 16

char *
dup_sv(struct ldg_slice s)
{
    size_t n = s.n;
    char *d;
    if (n > PROJ_STR_MAX) {
        n = PROJ_STR_MAX;
        while (n > 0 && (((const unsigned char *)s.p)[n] & 0xc0) == 0x80)
            n--;
    }
    d = malloc(n + 1);
    if (d == NULL)
        return NULL;
    memcpy(d, s.p, n);
    d[n] = '\0';
    return d;
}

int
set_sv(char **dst, struct ldg_slice s)
{
    char *d = dup_sv(s);
    if (d == NULL)
        return LDG_ENOMEM;
    free(*dst);
    *dst = d;
    return 0;
}

int
fold_set_str(char **dst, const char *s)
{
    struct ldg_slice v;
    if (s == NULL) {
        free(*dst);
        *dst = NULL;
        return 0;
    }
    v.p = s;
    v.n = strlen(s);
    return set_sv(dst, v);
}

int
fold_set_field(char **dst, const struct ldg_body_view *b, const char *name)
{
    struct ldg_slice s;
    if (ldg_body_view_str(b, name, &s))
        return set_sv(dst, s);
    free(*dst);
    *dst = NULL;
    return 0;
}

static void
strlist_clear(struct strlist *l)
{
    for (uint32_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

int
strlist_add(struct strlist *l, const char *s, size_t n)
{
    char **nv = realloc(l->v, (l->n + 1) * sizeof *nv);
    struct ldg_slice v = {s, n};
    if (nv == NULL)
        return LDG_ENOMEM;
    l->v = nv;
    l->v[l->n] = dup_sv(v);
    if (l->v[l->n] == NULL)
        return LDG_ENOMEM;
    l->n++;
    return 0;
}

int
fold_strlist_from_json(struct strlist *l, const json_t *a, size_t max)
{
    size_t i;
    json_t *v;
    int over = 0;
    strlist_clear(l);
    if (!json_is_array(a))
        return 0;
    json_array_foreach(a, i, v)
    {
        int rc;
        if (!json_is_string(v))
            continue;
        if (l->n >= max) {
            over = 1;
            break;
        }
        rc = strlist_add(l, json_string_value(v), json_string_length(v));
        if (rc < 0)
            return rc;
    }
    return over;
}

/* Text of any JSON value for error lists: strings as they are, objects
 * by their "message"/"name"/"error" member, else compact JSON. */
static int
strlist_add_json_text(struct strlist *l, const json_t *v)
{
    const char *keys[] = {"message", "name", "error", "detail"};
    char *s;
    int rc;
    if (json_is_string(v))
        return strlist_add(l, json_string_value(v), json_string_length(v));
    if (json_is_object(v)) {
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            const json_t *m = json_object_get(v, keys[i]);
            if (json_is_string(m))
                return strlist_add(l, json_string_value(m),
                                   json_string_length(m));
        }
    }
    s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (s == NULL)
        return LDG_ENOMEM;
    rc = strlist_add(l, s, strlen(s));
    free(s);
    return rc;
}

/* ------------------------------------------------------------ models -- */

static int
fold_host(struct pstate *ps, const struct penv *e,
          const struct ldg_body_view *b)
{
    uint8_t key[PROJ_KEY_MAX + 1];
    size_t kl = KEY1(key, TAG_HOST, svs("local"));
    struct rec_host *rec;
    int64_t v;
    int rc = 0;

    if (ldg_body_view_erased(b))
        return 0;
    UPD(ps, P_MODELS, key, kl);
    if (e->type == T_HOST_PROFILE) {
        json_t *g = ldg_body_view_json(b, "gpus");
        size_t i;
        json_t *x;
        rc = fold_set_field(&rec->cpu, b, "cpu");
        rec->cores = ldg_body_view_int(b, "cores", &v) ? v : 0;
        rec->ram_mb = ldg_body_view_int(b, "ram_mb", &v) ? v : 0;
        rec->tier = ldg_body_view_int(b, "tier", &v) ? v : 0;
        rec->gpus = 0;
        rec->vram_total_mb = 0;
        json_array_foreach(g, i, x)
        {
            json_t *vr = json_object_get(x, "vram_mb");
            rec->gpus++;
            if (json_is_integer(vr))
                rec->vram_total_mb += (int64_t)json_integer_value(vr);
        }
        json_decref(g);
        rec->has_profile = 1;
        rec->profile_seq = e->seq;
    } else {
        rec->has_capacity = 1;
        rec->capacity_seq = e->seq;
        rec->ram_free_mb = ldg_body_view_int(b, "ram_free_mb", &v) ? v : -1;
        rec->vram_free_mb = ldg_body_view_int(b, "vram_free_mb", &v) ? v : -1;
    }
    if (ldg_body_view_int(b, "disk_free_mb", &v)) {
        rec->has_disk = 1;
        rec->disk_free_mb = v;
        rec->disk_seq = e->seq;
    }
    return rc;
}

static int
fold_runtime(struct pstate *ps, const struct penv *e,
             const struct ldg_body_view *b)
{
    uint8_t key[PROJ_KEY_MAX + 1];
    struct rec_runtime *rec;
    struct ldg_slice name, st;
    double lat;
    size_t kl;
    int rc = 0;

    if (!ldg_body_view_str(b, "runtime", &name))
        return 0;
    kl = KEY1(key, TAG_RUNTIME, name);
    UPD(ps, P_MODELS, key, kl);
    if (rec->name == NULL && (rc = set_sv(&rec->name, name)) < 0)
        return rc;
    if (e->type == T_RUNTIME_REGISTERED) {
        rec->registered = 1;
        rec->registered_seq = e->seq;
        if ((rc = fold_set_field(&rec->endpoint, b, "endpoint")) < 0 ||
            (rc = fold_set_field(&rec->version, b, "version")) < 0)
            return rc;
    } else {
        rec->status = RT_UNKNOWN;
        if (ldg_body_view_str(b, "status", &st)) {
            if (sv_eq(st, "up"))
                rec->status = RT_UP;
            else if (sv_eq(st, "degraded"))
                rec->status = RT_DEGRADED;
            else if (sv_eq(st, "down"))
                rec->status = RT_DOWN;
        }
        rec->has_latency = (uint8_t)ldg_body_view_num(b, "latency_ms", &lat);
        rec->latency_ms = rec->has_latency ? lat : 0;
        rec->health_seq = e->seq;
        rec->health_ts = e->ts;
        if ((rc = fold_set_field(&rec->detail, b, "detail")) < 0)
            return rc;
    }
    return 0;
}

/* What the proxy saw of a runtime: a call to the upstream of the same
 * name (docs/PROXY.md) that could not connect to it ("unreachable") is
 * the runtime down, one it answered (a status) after that is it up again.
 * Only a runtime the log knows, and only a change of its state is kept
 * (each call would otherwise rewrite the record). */
static int
fold_runtime_seen(struct pstate *ps, const struct penv *e,
                  const struct ldg_body_view *b)
{
    uint8_t key[PROJ_KEY_MAX + 1];
    const struct rec_runtime *cur;
    struct rec_runtime *rec;
    struct ldg_slice up, why;
    int64_t status = 0;
    int unreach = 0, down, again, rc;
    size_t kl;

    if (!ldg_body_view_str(b, "upstream", &up))
        return 0;
    kl = KEY1(key, TAG_RUNTIME, up);
    if ((cur = ps_get(ps, P_MODELS, key, kl)) == NULL)
        return ps->err;
    (void)ldg_body_view_bool(b, "unreachable", &unreach);
    (void)ldg_body_view_int(b, "status", &status);
    down = unreach && cur->status != RT_DOWN;
    again = !unreach && status > 0 && cur->status == RT_DOWN;
    if (!down && !again)
        return 0;
    UPD(ps, P_MODELS, key, kl);
    rec->status = down ? RT_DOWN : RT_UP;
    rec->has_latency = 0;
    rec->latency_ms = 0;
    rec->health_seq = e->seq;
    rec->health_ts = e->ts;
    free(rec->detail);
    rec->detail = NULL;
    if (down && ldg_body_view_str(b, "reason", &why) &&
        (rc = set_sv(&rec->detail, why)) < 0)
        return rc;
    return 0;
}

static int
fold_model(struct pstate *ps, const struct penv *e,
           const struct ldg_body_view *b)
{
    uint8_t key[PROJ_KEY_MAX + 1];
    struct rec_model *rec;
    struct ldg_slice name, s;
    size_t kl;
    int rc = 0;
    int ok;

    if (!ldg_body_view_str(b, "model", &name))
        return 0;
    kl = KEY1(key, TAG_MODEL, name);
    UPD(ps, P_MODELS, key, kl);
    if (rec->name == NULL && (rc = set_sv(&rec->name, name)) < 0)
        return rc;
    switch (e->type) {
    case T_MODEL_REGISTERED: {
        json_t *src, *caps;
        int64_t size;
        rec->registered = 1;
        rec->registered_seq = e->seq;
        if ((rc = fold_set_field(&rec->digest, b, "digest")) < 0 ||
            (rc = fold_set_field(&rec->format, b, "format")) < 0 ||
            (rc = fold_set_field(&rec->quant, b, "quant")) < 0 ||
            (rc = fold_set_field(&rec->runtime, b, "runtime")) < 0 ||
            (rc = fold_set_field(&rec->license, b, "license")) < 0)
            return rc;
        rec->has_size = (uint8_t)ldg_body_view_int(b, "size_bytes", &size);
        rec->size_bytes = rec->has_size && size > 0 ? (uint64_t)size : 0;
        caps = ldg_body_view_json(b, "capabilities");
        rc = fold_strlist_from_json(&rec->capabilities, caps, PROJ_LIST_MAX);
        json_decref(caps);
        if (rc < 0)
            return rc;
        src = ldg_body_view_json(b, "source");
        rc = fold_set_str(&rec->source_url,
                          json_string_value(json_object_get(src, "url")));
        if (rc == 0)
            rc =
                fold_set_str(&rec->source_sha256,
                             json_string_value(json_object_get(src, "sha256")));
        json_decref(src);
        return rc;
    }
    case T_MODEL_VERIFIED:
        if (!ldg_body_view_bool(b, "ok", &ok))
            return 0;
        rec->verified = ok ? VS_OK : VS_FAILED;
        rec->verified_seq = e->seq;
        return fold_set_field(&rec->verified_digest, b, "digest");
    default: /* T_MODEL_STATE */
        if (!ldg_body_view_str(b, "state", &s))
            return 0;
        rec->state = sv_eq(s, "available") ? MS_AVAILABLE
                     : sv_eq(s, "loaded")  ? MS_LOADED
                     : sv_eq(s, "parked")  ? MS_PARKED
                     : sv_eq(s, "offline") ? MS_OFFLINE
                     : sv_eq(s, "removed") ? MS_REMOVED
                                           : MS_UNKNOWN;
        rec->state_seq = e->seq;
        rec->state_ts = e->ts;
        return fold_set_field(&rec->state_reason, b, "reason");
    }
}

/* ------------------------------------------------------------- packs -- */

static void
perms_free(struct rec_pack *p)
{
    for (uint32_t i = 0; i < p->nperms; i++) {
        free(p->perms[i].group);
        free(p->perms[i].scope);
        free(p->perms[i].tier);
    }
    free(p->perms);
    p->perms = NULL;
    p->nperms = 0;
}

/* Reads requires {permissions, routes, models, evals} into p. Permission
 * groups keep the since_seq they had in old (same group and scope); new
 * ones get since. */
static int
set_requires(struct rec_pack *p, const json_t *req, uint64_t since,
             const struct preq *old, uint32_t nold)
{
    const json_t *perms = json_object_get(req, "permissions"), *x;
    size_t i, n = json_array_size(perms);
    struct preq *np = NULL;
    uint32_t k = 0;
    int rc, over = 0;

    if (n > PROJ_LIST_MAX) {
        n = PROJ_LIST_MAX;
        over = 1;
    }
    if (n > 0) {
        np = calloc(n, sizeof *np);
        if (np == NULL)
            return LDG_ENOMEM;
    }
    json_array_foreach(perms, i, x)
    {
        const char *g = json_string_value(json_object_get(x, "group"));
        const char *s = json_string_value(json_object_get(x, "scope"));
        const char *t = json_string_value(json_object_get(x, "tier"));
        struct preq *r;
        if (i >= n)
            break;
        if (g == NULL || s == NULL)
            continue; /* a requirement without group or scope: skipped */
        r = &np[k++];
        r->group = strdup(g);
        r->scope = strdup(s);
        r->tier = t ? strdup(t) : NULL;
        r->optional = json_is_true(json_object_get(x, "optional"));
        r->since_seq = since;
        if (r->group == NULL || r->scope == NULL || (t && !r->tier)) {
            p->perms = np;
            p->nperms = k;
            return LDG_ENOMEM;
        }
        for (uint32_t j = 0; j < nold; j++)
            if (strcmp(old[j].group, g) == 0 && strcmp(old[j].scope, s) == 0)
                r->since_seq = old[j].since_seq;
    }
    p->perms = np;
    p->nperms = k;
    if ((rc = fold_strlist_from_json(&p->routes, json_object_get(req, "routes"),
                                     PROJ_LIST_MAX)) < 0)
        return rc;
    over |= rc;
    if ((rc = fold_strlist_from_json(&p->models, json_object_get(req, "models"),
                                     PROJ_LIST_MAX)) < 0)
        return rc;
    over |= rc;
    if ((rc = fold_strlist_from_json(&p->evals, json_object_get(req, "evals"),
                                     PROJ_LIST_MAX)) < 0)
        return rc;
    over |= rc;
    p->requires_state = (uint8_t)over;
    return 0;
}

static int
fold_pack_install(struct rec_pack *p, const struct penv *e,
                  const struct ldg_body_view *b)
{
    json_t *req = ldg_body_view_json(b, "requires");
    int rc;
    perms_free(p);
    strlist_clear(&p->routes);
    strlist_clear(&p->models);
    strlist_clear(&p->evals);
    rc = set_requires(p, req, e->seq, NULL, 0);
    json_decref(req);
    if (rc < 0)
        return rc;
    if ((rc = fold_set_field(&p->version, b, "version")) < 0 ||
        (rc = fold_set_field(&p->manifest_digest, b, "manifest_digest")) < 0 ||
        (rc = fold_set_field(&p->source, b, "source")) < 0)
        return rc;
    p->installed_seq = e->seq;
    p->installed_ts = e->ts;
    p->lifecycle = LC_INSTALLED;
    p->enabled = 1;
    p->lifecycle_seq = e->seq;
    fold_set_str(&p->lifecycle_reason, NULL);
    p->validated = TRI_NONE;
    p->validated_seq = 0;
    strlist_clear(&p->validation_errors);
    p->upgrades = 0;
    p->upgraded_seq = 0;
    return fold_set_str(&p->upgraded_from, NULL);
}

static int
fold_pack_upgrade(struct rec_pack *p, const struct penv *e,
                  const struct ldg_body_view *b)
{
    json_t *req = ldg_body_view_json(b, "requires");
    int rc = 0;
    if (req != NULL) {
        struct preq *old = p->perms;
        uint32_t nold = p->nperms;
        p->perms = NULL;
        p->nperms = 0;
        rc = set_requires(p, req, e->seq, old, nold);
        for (uint32_t i = 0; i < nold; i++) {
            free(old[i].group);
            free(old[i].scope);
            free(old[i].tier);
        }
        free(old);
        json_decref(req);
        if (rc < 0)
            return rc;
    }
    if ((rc = fold_set_field(&p->version, b, "to")) < 0 ||
        (rc = fold_set_field(&p->upgraded_from, b, "from")) < 0 ||
        (rc = fold_set_field(&p->manifest_digest, b, "manifest_digest")) < 0)
        return rc;
    p->upgrades++;
    p->upgraded_seq = e->seq;
    /* An upgrade re-opens validation. */
    p->validated = TRI_NONE;
    p->validated_seq = 0;
    strlist_clear(&p->validation_errors);
    return 0;
}

static int
fold_pack(struct pstate *ps, const struct penv *e,
          const struct ldg_body_view *b)
{
    uint8_t key[PROJ_KEY_MAX + 1];
    struct rec_pack *rec;
    struct ldg_slice name;
    size_t kl;
    int ok, rc = 0;

    if (!ldg_body_view_str(b, "pack", &name))
        return 0;
    kl = KEY1(key, TAG_PACK, name);
    if (e->type != T_PACK_INSTALLED && ps_get(ps, P_PACKS, key, kl) == NULL)
        return 0; /* events about a pack never installed are not a pack */
    UPD(ps, P_PACKS, key, kl);
    if (rec->name == NULL && (rc = set_sv(&rec->name, name)) < 0)
        return rc;
    rec->last_seq = e->seq;
    switch (e->type) {
    case T_PACK_INSTALLED:
        return fold_pack_install(rec, e, b);
    case T_PACK_UPGRADED:
        return fold_pack_upgrade(rec, e, b);
    case T_PACK_VALIDATED: {
        json_t *errs, *x;
        size_t i;
        if (!ldg_body_view_bool(b, "ok", &ok))
            return 0;
        rec->validated = ok ? TRI_OK : TRI_FAIL;
        rec->validated_seq = e->seq;
        strlist_clear(&rec->validation_errors);
        errs = ldg_body_view_json(b, "errors");
        json_array_foreach(errs, i, x)
        {
            if (i >= ERRLIST_MAX)
                break;
            if ((rc = strlist_add_json_text(&rec->validation_errors, x)) < 0)
                break;
        }
        json_decref(errs);
        return rc;
    }
    case T_PACK_CHECKED: {
        json_t *cl, *x;
        size_t i;
        if (!ldg_body_view_bool(b, "ok", &ok))
            return 0;
        rec->checked = ok ? TRI_OK : TRI_FAIL;
        rec->checked_seq = e->seq;
        strlist_clear(&rec->check_failed);
        cl = ldg_body_view_json(b, "clauses");
        json_array_foreach(cl, i, x)
        {
            const json_t *n = json_object_get(x, "name");
            if (rec->check_failed.n >= ERRLIST_MAX)
                break;
            if (!json_is_false(json_object_get(x, "ok")))
                continue;
            rc = strlist_add(&rec->check_failed,
                             json_is_string(n) ? json_string_value(n) : "?",
                             json_is_string(n) ? json_string_length(n) : 1);
            if (rc < 0)
                break;
        }
        json_decref(cl);
        return rc;
    }
    default:
        rec->lifecycle = e->type == T_PACK_ENABLED    ? LC_ENABLED
                         : e->type == T_PACK_DISABLED ? LC_DISABLED
                                                      : LC_REMOVED;
        if (e->type == T_PACK_ENABLED)
            rec->enabled = 1;
        else if (e->type == T_PACK_DISABLED)
            rec->enabled = 0;
        rec->lifecycle_seq = e->seq;
        return fold_set_field(&rec->lifecycle_reason, b, "reason");
    }
}

/* ------------------------------------------------------- permissions -- */

static int
fold_perm(struct pstate *ps, const struct penv *e,
          const struct ldg_body_view *b)
{
    uint8_t key[PROJ_KEY_MAX + 1];
    struct rec_perm *rec;
    struct ldg_slice pack, group, scope;
    size_t kl;
    int rc;

    if (!ldg_body_view_str(b, "pack", &pack) ||
        !ldg_body_view_str(b, "group", &group) ||
        !ldg_body_view_str(b, "scope", &scope))
        return 0;
    kl = KEY3(key, TAG_PERM, pack, group, scope);
    UPD(ps, P_PERMISSIONS, key, kl);
    if (rec->pack == NULL && ((rc = set_sv(&rec->pack, pack)) < 0 ||
                              (rc = set_sv(&rec->group, group)) < 0 ||
                              (rc = set_sv(&rec->scope, scope)) < 0))
        return rc;
    if (e->type == T_PERMISSION_REQUESTED) {
        /* A request opens a pending decision; it does not undo one that
         * stands (a re-request is recorded by its seq only). */
        if (rec->state == PS_NONE)
            rec->state = PS_REQUESTED;
        rec->requested_seq = e->seq;
        rec->requested_ts = e->ts;
        return fold_set_field(&rec->tier, b, "tier");
    }
    rec->state = e->type == T_PERMISSION_GRANTED  ? PS_GRANTED
                 : e->type == T_PERMISSION_DENIED ? PS_DENIED
                                                  : PS_REVOKED;
    rec->decided_seq = e->seq;
    rec->decided_ts = e->ts;
    rec->expires_ns = 0;
    rec->bad_expires = 0;
    if (e->type == T_PERMISSION_GRANTED) {
        struct ldg_slice s;
        int64_t i;
        if (ldg_body_view_str(b, "expires", &s) ||
            ldg_body_view_int(b, "expires", &i)) {
            rec->expires_ns = parse_time_ns(b, "expires");
            if (rec->expires_ns == 0) {
                /* Unreadable expiry: fail closed, treat as expired. */
                rec->expires_ns = 1;
                rec->bad_expires = 1;
            }
        }
    }
    if ((rc = fold_set_field(&rec->by, b, "by")) < 0)
        return rc;
    return fold_set_field(&rec->reason, b, "reason");
}

/* -------------------------------------------------------------- runs -- */

static struct rec_run *
run_rec(struct pstate *ps, const struct penv *e, struct ldg_slice run)
{
    uint8_t key[PROJ_KEY_MAX + 1];
    size_t kl = KEY1(key, TAG_RUN, run);
    struct rec_run *r = ps_upd(ps, P_RUNS, key, kl);
    if (r == NULL)
        return NULL;
    if (r->run == NULL && set_sv(&r->run, run) < 0)
        return NULL;
    if (r->events == 0)
        r->first_seq = e->seq;
    r->events++;
    r->last_seq = e->seq;
    return r;
}

static int
fold_run(struct pstate *ps, const struct penv *e, const struct ldg_body_view *b)
{
    struct rec_run *r;
    struct ldg_slice run, s;
    double d;
    int rc = 0;

    if (!ldg_body_view_str(b, "run", &run) || run.n == 0) {
        if (e->run.n == 0)
            return 0;
        run = e->run;
    }
    r = run_rec(ps, e, run);
    if (r == NULL)
        return ps->err ? ps->err : LDG_ENOMEM;
    switch (e->type) {
    case T_RUN_STARTED:
        r->started = 1;
        r->started_seq = e->seq;
        r->start_ts = e->ts;
        if ((rc = fold_set_field(&r->pack, b, "pack")) < 0 ||
            (rc = fold_set_field(&r->intent, b, "intent")) < 0 ||
            (rc = fold_set_field(&r->requested_by, b, "requested_by")) < 0 ||
            (rc = fold_set_field(&r->plan_hash, b, "plan_hash")) < 0)
            return rc;
        break;
    case T_RUN_STEP:
        r->steps++;
        if (ldg_body_view_str(b, "status", &s)) {
            if (sv_eq(s, "ok")) {
                r->steps_ok++;
            } else if (sv_eq(s, "failed")) {
                r->steps_failed++;
                if (r->first_failed_step == NULL) {
                    r->first_failed_seq = e->seq;
                    if (!ldg_body_view_str(b, "step", &s))
                        s = svs("?");
                    if ((rc = set_sv(&r->first_failed_step, s)) < 0)
                        return rc;
                }
            } else if (sv_eq(s, "skipped")) {
                r->steps_skipped++;
            }
        }
        if (ldg_body_view_str(b, "step", &s) &&
            (rc = set_sv(&r->last_step, s)) < 0)
            return rc;
        break;
    case T_RUN_POLICY:
        if (ldg_body_view_str(b, "decision", &s)) {
            if (sv_eq(s, "allow")) {
                r->policy_allow++;
            } else if (sv_eq(s, "deny")) {
                r->policy_deny++;
                if (r->first_deny_rule == NULL) {
                    r->first_deny_seq = e->seq;
                    if (!ldg_body_view_str(b, "rule", &s))
                        s = svs("?");
                    if ((rc = set_sv(&r->first_deny_rule, s)) < 0)
                        return rc;
                }
            }
        }
        break;
    default: /* T_RUN_FINISHED */
        r->finished_seq = e->seq;
        r->end_ts = e->ts;
        r->status = RS_UNKNOWN;
        if (ldg_body_view_str(b, "status", &s))
            r->status = sv_eq(s, "ok")        ? RS_OK
                        : sv_eq(s, "failed")  ? RS_FAILED
                        : sv_eq(s, "aborted") ? RS_ABORTED
                                              : RS_UNKNOWN;
        r->has_duration = (uint8_t)ldg_body_view_num(b, "duration_ms", &d);
        r->duration_ms = r->has_duration ? d : 0;
        if ((rc = fold_set_field(&r->error, b, "error")) < 0)
            return rc;
        break;
    }
    return 0;
}

/* Events of other types linked to a run: counted, and decisions tallied. */
static int
fold_run_link(struct pstate *ps, const struct penv *e,
              const struct ldg_body_view *b)
{
    struct rec_run *r = run_rec(ps, e, e->run);
    if (r == NULL)
        return ps->err ? ps->err : LDG_ENOMEM;
    if (e->type == T_OTEL_SPAN || e->type == T_OTEL_LOG)
        r->traced = 1; /* (their bodies are never read) */
    if (e->type == T_ROUTE_DECISION) {
        struct ldg_slice out, tr;
        int fb = 0;
        if (ldg_body_view_str(b, "trace_id", &tr))
            r->traced = 1;
        r->decisions++;
        if (ldg_body_view_bool(b, "fallback", &fb) && fb)
            r->dec_fallback++;
        if (ldg_body_view_str(b, "outcome", &out)) {
            if (sv_eq(out, "error"))
                r->dec_error++;
            else if (sv_eq(out, "refused"))
                r->dec_refused++;
        }
    }
    return 0;
}

/* ------------------------------------------------------------- entry -- */

EV_SWITCH_CHECKED_BEGIN
int
fold_event(struct pstate *ps, const struct penv *e,
           const struct ldg_body_view *b)
{
    unsigned m = ps->mask;
    int rc = 0, run_event = 0;

    /* events are folded in the log's order, none twice */
    LDG_ASSERT(e->seq >= ps->applied && e->type >= T_OTHER &&
               e->type < T_COUNT);
    ps->err = 0;
    ps->writes = ev_type_writes(e->type) | (1u << P_RUNS);
    switch (e->type) {
    case T_OTHER: /* x.* */
    case T_LEDGER_GENESIS:
    case T_LEDGER_PRUNED:
    case T_KEY_ADDED:
    case T_KEY_REVOKED:
    case T_KEY_ANCHORED:
    case T_BODY_ERASED: /* the engine replays what an erasure changes */
    case T_EVAL_STARTED:
    case T_OTEL_LOG:
        break;        /* no projection of their own (a run link below) */
    case T_OTEL_SPAN: /* a call's spans, for the routes' count */
        if (m & (1u << P_ROUTES))
            rc = fold_span_join(ps, e, b);
        break;
    case T_PROXY_REQUEST:
        /* (a run link below too) */
        if (m & (1u << P_MODELS))
            rc = fold_runtime_seen(ps, e, b);
        break;
    case T_HOST_PROFILE:
    case T_CAPACITY_SNAPSHOT:
        if (m & (1u << P_MODELS))
            rc = fold_host(ps, e, b);
        break;
    case T_RUNTIME_REGISTERED:
    case T_RUNTIME_HEALTH:
        if (m & (1u << P_MODELS))
            rc = fold_runtime(ps, e, b);
        break;
    case T_MODEL_REGISTERED:
    case T_MODEL_VERIFIED:
    case T_MODEL_STATE:
        if (m & (1u << P_MODELS))
            rc = fold_model(ps, e, b);
        break;
    case T_PACK_INSTALLED:
    case T_PACK_VALIDATED:
    case T_PACK_CHECKED:
    case T_PACK_ENABLED:
    case T_PACK_DISABLED:
    case T_PACK_REMOVED:
    case T_PACK_UPGRADED:
        if (m & (1u << P_PACKS))
            rc = fold_pack(ps, e, b);
        break;
    case T_PERMISSION_REQUESTED:
    case T_PERMISSION_GRANTED:
    case T_PERMISSION_DENIED:
    case T_PERMISSION_REVOKED:
        if (m & (1u << P_PERMISSIONS))
            rc = fold_perm(ps, e, b);
        break;
    case T_ROUTE_DECLARED:
        if (m & (1u << P_ROUTES))
            rc = fold_route_declared(ps, e, b);
        break;
    case T_ROUTE_DECISION:
        rc = fold_decision(ps, e, b);
        if (rc == 0)
            rc = fold_build_errors(ps, e, b); /* errors after a promotion */
        if (rc == 0 && (m & (1u << P_MODELS)))
            rc = fold_runtime_seen(ps, e, b);
        break;
    case T_EVAL_RESULT:
        rc = fold_eval_result(ps, e, b);
        break;
    case T_PROMOTION_REQUESTED:
    case T_PROMOTION_PROMOTED:
    case T_PROMOTION_REJECTED:
    case T_PROMOTION_ROLLED_BACK:
        rc = fold_promotion(ps, e, b);
        break;
    case T_RUN_STARTED:
    case T_RUN_STEP:
    case T_RUN_POLICY:
    case T_RUN_FINISHED:
        run_event = 1;
        if (m & (1u << P_RUNS))
            rc = fold_run(ps, e, b);
        if (rc == 0 && e->type == T_RUN_FINISHED)
            rc = fold_build_errors(ps, e, b); /* errors after a promotion */
        break;
    /* the control pipeline's events: fold_pipeline.c */
    case T_PLAN_STATE:
    case T_PLAN_STEP:
        rc = fold_plan(ps, e, b);
        break;
    case T_DEBATE_VOTE:
    case T_DEBATE_DECIDED:
        rc = fold_debate(ps, e, b);
        break;
    case T_SNAPSHOT_TAKEN:
    case T_SNAPSHOT_RESTORED:
        if (m & (1u << P_PLANS))
            rc = fold_snapshot(ps, e, b);
        break;
    case T_TRIPCODE_USED:
    case T_TRIPCODE_REFUSED:
        if (m & (1u << P_PLANS))
            rc = fold_tripcode(ps, e, b);
        break;
    case T_MEMORY_CANDIDATE:
    case T_MEMORY_GATE:
    case T_MEMORY_ADMITTED:
    case T_MEMORY_REVOKED:
    case T_MEMORY_PURGED:
        if (m & (1u << P_MEMORY))
            rc = fold_memory(ps, e, b);
        break;
    case T_BUILD_BUILT:
    case T_BUILD_PROMOTED:
    case T_BUILD_REVERTED:
        if (m & (1u << P_BUILDS))
            rc = fold_build(ps, e, b);
        break;
    case T_HEALTH_PROBE:
        rc = fold_build_errors(ps, e, b);
        break;
    }
    if (rc == 0 && (m & (1u << P_RUNS)) && e->run.n > 0 && !run_event)
        rc = fold_run_link(ps, e, b);
    ps->writes = 0;
    if (rc == 0 && ps->err) /* a record that could not be read */
        rc = ps->err;
    if (rc == 0) {
        ps->applied = e->seq + 1;
        ps->last_ts = e->ts;
    }
    return rc;
}
EV_SWITCH_CHECKED_END
