/*
 * state.c — struct pstate, the write-back record cache every fold and view
 * works on.
 *
 * A pstate maps (projection, db key) to a decoded record. Backed by a
 * transaction, a miss reads the record from proj.<name>; memory-only (for
 * --at, rebuilds and checks) a miss means "no record". Folds change
 * records in place and mark them dirty; ps_flush encodes the dirty ones
 * into the backing write transaction and keeps each projection's digest
 * current:
 *
 *   digest state = (acc, count), acc = Σ SHA-256(u32be(klen) ‖ key ‖ value)
 *                  mod 2^256 over the projection's records
 *
 * Replacing a record subtracts the hash of its old bytes and adds the new
 * one, so the digest never needs a scan. The sum depends only on the set
 * of (key, value) records, and each record has one canonical encoding, so
 * two states are equal exactly when (barring collisions) their digests
 * are. It detects divergence; it is not meant to resist someone crafting
 * records to collide (additive hashes are weak against that).
 */
#include <stdlib.h>
#include <string.h>

#include "projections/proj_int.h"

const struct proj_def proj_defs[P_COUNT] = {
    {"packs", "proj.packs", V_PACKS},
    {"permissions", "proj.permissions", V_PERMISSIONS},
    {"models", "proj.models", V_MODELS},
    {"routes", "proj.routes", V_ROUTES},
    {"promotions", "proj.promotions", V_PROMOTIONS},
    {"runs", "proj.runs", V_RUNS},
    {"plans", "proj.plans", V_PLANS},
    {"memory", "proj.memory", V_MEMORY},
    {"builds", "proj.builds", V_BUILDS},
};

int
proj_find(const char *name)
{
    for (int i = 0; i < P_COUNT; i++)
        if (strcmp(proj_defs[i].name, name) == 0)
            return i;
    return -1;
}

/* Hash of projection id and key: 8 bytes at a time (multiply-xorshift),
 * finished with murmur3's fmix64 folded to 32 bits (never 0: 0 marks an
 * empty slot). */
static uint32_t
khash(enum proj_id p, const uint8_t *k, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ ((uint64_t)p << 56) ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, k + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    if (i < n) {
        uint64_t w = 0;
        memcpy(&w, k + i, n - i);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
    }
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    h = (uint32_t)(h ^ (h >> 32));
    return h ? (uint32_t)h : 1;
}

int
ps_new(struct pstate **out, struct ldg_ledger *l, struct ldg_txn *t,
       int writable, unsigned mask)
{
    struct pstate *ps = calloc(1, sizeof *ps);
    if (ps == NULL)
        return LDG_ENOMEM;
    ps->cap = 1024;
    ps->slots = calloc(ps->cap, sizeof *ps->slots);
    ps->hashes = calloc(ps->cap, sizeof *ps->hashes);
    if (ps->slots == NULL || ps->hashes == NULL) {
        free(ps->slots);
        free(ps->hashes);
        free(ps);
        return LDG_ENOMEM;
    }
    ps->l = l;
    ps->t = t;
    ps->writable = writable;
    ps->mask = mask;
    if (t != NULL) {
        for (int i = 0; i < P_COUNT; i++) {
            int rc = ldg_db_open(t, proj_defs[i].db,
                                 writable ? LDG_DB_CREATE : 0, &ps->dbi[i]);
            if (rc == 0)
                ps->have_db[i] = 1;
            else if (rc != LDG_ENOTFOUND) {
                ps_free(ps);
                return rc;
            }
        }
    }
    *out = ps;
    return 0;
}

int
ps_new_horizon(struct pstate **out, struct ldg_ledger *l, struct ldg_txn *t)
{
    ldg_dbi dbi;
    int rc = ldg_db_open(t, PROJ_HORIZON_DB, LDG_DB_CREATE, &dbi);
    if (rc < 0 || (rc = ps_new(out, l, NULL, 0, P_ALL)) < 0)
        return rc;
    (*out)->t = t;
    (*out)->writable = 1;
    (*out)->horizon = 1;
    for (int i = 0; i < P_COUNT; i++) {
        (*out)->dbi[i] = dbi;
        (*out)->have_db[i] = 1;
    }
    return 0;
}

/* The db key of record key of projection p: the key itself in
 * proj.<name>, after p's index in proj.horizon (buf: PROJ_KEY_MAX + 2). */
static const uint8_t *
db_key(const struct pstate *ps, enum proj_id p, const uint8_t *key, size_t klen,
       uint8_t *buf, size_t *n)
{
    *n = klen;
    if (!ps->horizon)
        return key;
    if (klen > PROJ_KEY_MAX + 1)
        return NULL;
    buf[0] = (uint8_t)p;
    memcpy(buf + 1, key, klen);
    *n = klen + 1;
    return buf;
}

static void
entry_free(struct pentry *e)
{
    if (e == NULL)
        return;
    if (!e->rec_arena)
        rec_free(e->rt, e->rec);
    if (!e->in_arena) {
        free(e->key);
        free(e);
    }
}

void
ps_free(struct pstate *ps)
{
    if (ps == NULL)
        return;
    for (size_t i = 0; i < ps->cap; i++)
        entry_free(ps->slots[i]);
    free(ps->slots);
    free(ps->hashes);
    free(ps->dirty);
    for (int i = 0; i < RTYPE_COUNT; i++)
        free(ps->ordered[i]);
    arena_release(&ps->arena);
    free(ps);
}

size_t
pkey(uint8_t *buf, uint8_t tag, const struct ldg_slice *parts, size_t n)
{
    size_t len = 1, full = 1;
    buf[0] = tag;
    for (size_t i = 0; i < n; i++)
        full += parts[i].n + (i > 0);
    if (full <= PROJ_KEY_MAX) {
        for (size_t i = 0; i < n; i++) {
            if (i > 0)
                buf[len++] = 0x00;
            memcpy(buf + len, parts[i].p, parts[i].n);
            len += parts[i].n;
        }
        LDG_ASSERT(len == full && len <= PROJ_KEY_MAX);
        return len;
    } else {
        /* prefix ‖ 0x01 ‖ hex(SHA-256(parts joined))[0:32] */
        uint8_t *tmp = malloc(full), h[32];
        char hex[65];
        size_t at = 0, keep = PROJ_KEY_MAX - 1 - 1 - 32;
        if (tmp == NULL) {
            /* Hash the parts one by one instead of failing: the key
             * must still be deterministic. */
            memset(h, 0, sizeof h);
            for (size_t i = 0; i < n; i++) {
                uint8_t hp[32];
                ldg_sha256(hp, parts[i].p, parts[i].n);
                for (int j = 0; j < 32; j++)
                    h[j] ^= (uint8_t)(hp[j] + (uint8_t)i);
            }
        } else {
            for (size_t i = 0; i < n; i++) {
                if (i > 0)
                    tmp[at++] = 0x00;
                memcpy(tmp + at, parts[i].p, parts[i].n);
                at += parts[i].n;
            }
            LDG_ASSERT(at + 1 == full);
            ldg_sha256(h, tmp, at);
            memcpy(buf + 1, tmp, keep);
            free(tmp);
        }
        if (tmp == NULL)
            memset(buf + 1, '?', keep);
        len = 1 + keep;
        buf[len++] = 0x01;
        ldg_hex(hex, h, 16);
        memcpy(buf + len, hex, 32);
        LDG_ASSERT(len + 32 == PROJ_KEY_MAX);
        return len + 32;
    }
}

/* Index of key's slot, or of the empty slot where it would go. The
 * hashes sit in their own array so a probe touches no entry until the
 * hash matches. */
static size_t
slot_of(struct pstate *ps, enum proj_id p, const uint8_t *key, size_t klen,
        uint32_t h)
{
    size_t i = h & (ps->cap - 1);
    for (;;) {
        uint32_t sh = ps->hashes[i];
        if (sh == 0)
            return i;
        if (sh == h) {
            struct pentry *e = ps->slots[i];
            if (e->rt->proj == p && e->klen == klen &&
                memcmp(e->key, key, klen) == 0)
                return i;
        }
        i = (i + 1) & (ps->cap - 1);
    }
}

static int
grow(struct pstate *ps)
{
    size_t ncap = ps->cap * 2;
    struct pentry **ns = calloc(ncap, sizeof *ns);
    uint32_t *nh = calloc(ncap, sizeof *nh);
    if (ns == NULL || nh == NULL) {
        free(ns);
        free(nh);
        return LDG_ENOMEM;
    }
    for (size_t i = 0; i < ps->cap; i++) {
        struct pentry *e = ps->slots[i];
        size_t j;
        if (e == NULL)
            continue;
        j = e->hash & (ncap - 1);
        while (nh[j] != 0)
            j = (j + 1) & (ncap - 1);
        ns[j] = e;
        nh[j] = e->hash;
    }
    free(ps->slots);
    free(ps->hashes);
    ps->slots = ns;
    ps->hashes = nh;
    ps->cap = ncap;
    return 0;
}

void
record_hash(uint8_t out[32], const uint8_t *key, size_t klen,
            const uint8_t *val, size_t vlen)
{
    uint8_t stack[1024], *buf = stack;
    size_t n = 4 + klen + vlen;
    if (n > sizeof stack) {
        buf = malloc(n);
        if (buf == NULL) {
            /* Degrade to hashing the parts (never silently wrong: the
             * same record always takes the same branch for its size). */
            uint8_t a[32], b[32], c[64];
            ldg_sha256(a, key, klen);
            ldg_sha256(b, val, vlen);
            memcpy(c, a, 32);
            memcpy(c + 32, b, 32);
            ldg_sha256(out, c, 64);
            return;
        }
    }
    buf[0] = (uint8_t)(klen >> 24);
    buf[1] = (uint8_t)(klen >> 16);
    buf[2] = (uint8_t)(klen >> 8);
    buf[3] = (uint8_t)klen;
    memcpy(buf + 4, key, klen);
    memcpy(buf + 4 + klen, val, vlen);
    ldg_sha256(out, buf, n);
    if (buf != stack)
        free(buf);
}

/* Inserts a new entry (the key is not present). Read states keep the
 * entry, its key and rec (when from_arena) in the arena. */
static struct pentry *
insert(struct pstate *ps, enum proj_id p, uint8_t tag, const uint8_t *key,
       size_t klen, uint32_t h, void *rec, int from_arena)
{
    struct pentry *e;
    size_t i;
    const struct rtype *rt = rtype_of(p, tag);
    if (rt == NULL)
        return NULL;
    if ((ps->n + 1) * 4 > ps->cap * 3 && grow(ps) < 0)
        return NULL;
    if (from_arena) {
        e = arena_alloc(&ps->arena, sizeof *e);
        if (e == NULL)
            return NULL;
        e->key = arena_alloc(&ps->arena, klen);
        if (e->key == NULL)
            return NULL;
        e->in_arena = 1;
        e->rec_arena = 1;
    } else {
        e = calloc(1, sizeof *e);
        if (e == NULL)
            return NULL;
        e->key = malloc(klen);
        if (e->key == NULL) {
            free(e);
            return NULL;
        }
    }
    memcpy(e->key, key, klen);
    e->klen = (uint32_t)klen;
    e->hash = h;
    e->rt = rt;
    e->rec = rec;
    i = slot_of(ps, p, key, klen, h);
    ps->slots[i] = e;
    ps->hashes[i] = h;
    ps->n++;
    ps->per_tag[rtype_index(rt)]++;
    return e;
}

/* Looks up, loading from the backing store on a miss. *found gets the
 * entry or NULL; returns 0 or an error. */
static int
lookup(struct pstate *ps, enum proj_id p, const uint8_t *key, size_t klen,
       struct pentry **found)
{
    uint32_t h = khash(p, key, klen);
    struct pentry *s = ps->slots[slot_of(ps, p, key, klen, h)];
    struct ldg_val v;
    const struct rtype *rt;
    const uint8_t *dk;
    uint8_t buf[PROJ_KEY_MAX + 2];
    size_t dn;
    void *rec;
    int rc;

    *found = s;
    if (s != NULL || ps->t == NULL || !ps->have_db[p] ||
        ps->loaded[key[0]] & (1 << p))
        return 0;
    if ((dk = db_key(ps, p, key, klen, buf, &dn)) == NULL)
        return LDG_EINVAL;
    rc = ldg_kv_get(ps->t, ps->dbi[p], dk, dn, &v);
    if (rc == LDG_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    rt = rtype_of(p, key[0]);
    if (rt == NULL)
        return LDG_ECORRUPT;
    if ((rc = rec_decode_in(rt, v.data, v.len, ps->writable ? NULL : &ps->arena,
                            &rec)) < 0)
        return rc;
    *found = insert(ps, p, key[0], key, klen, h, rec, !ps->writable);
    if (*found == NULL) {
        if (ps->writable)
            rec_free(rt, rec);
        return LDG_ENOMEM;
    }
    if (ps->writable) {
        record_hash((*found)->old_hash, key, klen, v.data, v.len);
        (*found)->has_old = 1;
    }
    return 0;
}

void *
ps_get(struct pstate *ps, enum proj_id p, const uint8_t *key, size_t klen)
{
    struct pentry *e;
    int rc = lookup(ps, p, key, klen, &e);
    if (rc < 0) {
        ps->err = rc;
        return NULL;
    }
    return e ? e->rec : NULL;
}

static int
mark_dirty(struct pstate *ps, struct pentry *e)
{
    e->dirty = 1;
    if (e->queued)
        return 0;
    if (ps->ndirty == ps->dcap) {
        size_t nc = ps->dcap ? ps->dcap * 2 : 64;
        struct pentry **nd = realloc(ps->dirty, nc * sizeof *nd);
        if (nd == NULL)
            return LDG_ENOMEM;
        ps->dirty = nd;
        ps->dcap = nc;
    }
    LDG_ASSERT(ps->ndirty < ps->dcap);
    ps->dirty[ps->ndirty++] = e;
    e->queued = 1;
    return 0;
}

void *
ps_upd(struct pstate *ps, enum proj_id p, const uint8_t *key, size_t klen)
{
    struct pentry *e;
    /* a fold changes only what its event's type says it may (scan.c's
     * ev_type_writes: a view at an earlier size reads by it) */
    LDG_ASSERT(ps->writes == 0 || (ps->writes & (1u << p)));
    int rc = lookup(ps, p, key, klen, &e);
    if (rc < 0) {
        ps->err = rc;
        return NULL;
    }
    if (e == NULL) {
        const struct rtype *rt = rtype_of(p, key[0]);
        void *rec;
        if (rt == NULL)
            return NULL;
        rec = calloc(1, rt->size);
        if (rec == NULL)
            return NULL;
        e = insert(ps, p, key[0], key, klen, khash(p, key, klen), rec, 0);
        if (e == NULL) {
            rec_free(rt, rec);
            return NULL;
        }
    } else if (e->rec_arena) {
        /* About to change a record decoded into the arena: give it its
         * own memory first (the folds free and replace fields). */
        uint8_t *val;
        size_t vlen;
        void *own;
        if (rec_encode(e->rt, e->rec, &val, &vlen) < 0)
            return NULL;
        if (rec_decode(e->rt, val, vlen, &own) < 0) {
            free(val);
            return NULL;
        }
        free(val);
        e->rec = own;
        e->rec_arena = 0;
    }
    if (ps->t != NULL && mark_dirty(ps, e) < 0)
        return NULL;
    e->dirty = 1;
    return e->rec;
}

int
ps_load_tag(struct pstate *ps, enum proj_id p, uint8_t tag)
{
    struct ldg_cursor *c = NULL;
    struct ldg_val k, v;
    const struct rtype *trt = rtype_of(p, tag);
    struct pentry **ord = NULL;
    size_t nord = 0, cord = 0, off = ps->horizon ? 1 : 0;
    uint8_t from[2] = {(uint8_t)p, tag};
    int rc;

    if (ps->t == NULL || !ps->have_db[p] || (ps->loaded[tag] & (1 << p)))
        return 0;
    if (trt == NULL)
        return LDG_EINVAL;
    if ((rc = ldg_cursor_open(ps->t, ps->dbi[p], &c)) < 0)
        return rc;
    rc = ldg_cursor_get(c, LDG_SET_RANGE, from + 1 - off, 1 + off, &k, &v);
    /* (in proj.horizon, the records of p follow p's index) */
    while (rc == 0 && k.len >= 1 + off &&
           memcmp(k.data, from + 1 - off, 1 + off) == 0) {
        const uint8_t *kd = (const uint8_t *)k.data + off;
        size_t kl = k.len - off;
        uint32_t h = khash(p, kd, kl);
        struct pentry *have = ps->slots[slot_of(ps, p, kd, kl, h)];
        if (!ps->writable && nord == cord) {
            /* keep the cursor's (key) order for ps_list */
            size_t nc = cord ? cord * 2 : 256;
            struct pentry **no = realloc(ord, nc * sizeof *no);
            if (no == NULL) {
                rc = LDG_ENOMEM;
                break;
            }
            ord = no;
            cord = nc;
        }
        if (have == NULL) {
            const struct rtype *rt = trt;
            struct pentry *e;
            void *rec;
            if ((rc = rec_decode_in(rt, v.data, v.len,
                                    ps->writable ? NULL : &ps->arena, &rec)) <
                0)
                break;
            e = insert(ps, p, tag, kd, kl, h, rec, !ps->writable);
            if (e == NULL) {
                if (ps->writable)
                    rec_free(rt, rec);
                rc = LDG_ENOMEM;
                break;
            }
            if (ps->writable) {
                record_hash(e->old_hash, kd, kl, v.data, v.len);
                e->has_old = 1;
            }
            have = e;
        }
        if (!ps->writable)
            ord[nord++] = have;
        rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v);
    }
    ldg_cursor_close(c);
    if (rc == LDG_ENOTFOUND || rc == 0) {
        ps->loaded[tag] |= 1 << p;
        if (!ps->writable) {
            int ix = rtype_index(trt);
            free(ps->ordered[ix]);
            ps->ordered[ix] = ord;
            ps->nordered[ix] = nord;
        } else {
            free(ord);
        }
        return 0;
    }
    free(ord);
    return rc;
}

int
proj_cmp_entry(const void *a, const void *b)
{
    const struct pentry *x = *(struct pentry *const *)a;
    const struct pentry *y = *(struct pentry *const *)b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);
    if (c != 0)
        return c;
    return x->klen < y->klen ? -1 : x->klen > y->klen;
}

int
ps_list(struct pstate *ps, enum proj_id p, uint8_t tag, struct pentry ***out,
        size_t *n)
{
    struct pentry **v;
    size_t k = 0;
    const struct rtype *rt = rtype_of(p, tag);
    int rc = ps_load_tag(ps, p, tag), ix;
    if (rc < 0)
        return rc;
    if (rt == NULL)
        return LDG_EINVAL;
    ix = rtype_index(rt);
    if (ps->ordered[ix] != NULL && ps->nordered[ix] == ps->per_tag[ix]) {
        /* Everything of this tag came from the store, in key order. */
        v = malloc((ps->nordered[ix] ? ps->nordered[ix] : 1) * sizeof *v);
        if (v == NULL)
            return LDG_ENOMEM;
        memcpy(v, ps->ordered[ix], ps->nordered[ix] * sizeof *v);
        *out = v;
        *n = ps->nordered[ix];
        return 0;
    }
    v = malloc((ps->n ? ps->n : 1) * sizeof *v);
    if (v == NULL)
        return LDG_ENOMEM;
    for (size_t i = 0; i < ps->cap; i++) {
        struct pentry *e = ps->slots[i];
        if (e != NULL && e->rt->proj == p && e->key[0] == tag)
            v[k++] = e;
    }
    LDG_ASSERT(k <= ps->n);
    qsort(v, k, sizeof *v, proj_cmp_entry);
    *out = v;
    *n = k;
    return 0;
}

/* ------------------------------------------------------------ digests -- */

void
pdigest_add(struct pdigest *d, const uint8_t h[32])
{
    unsigned carry = 0;
    for (int i = 31; i >= 0; i--) {
        unsigned s = (unsigned)d->acc[i] + h[i] + carry;
        d->acc[i] = (uint8_t)s;
        carry = s >> 8;
    }
    d->count++;
}

void
pdigest_sub(struct pdigest *d, const uint8_t h[32])
{
    int borrow = 0;
    for (int i = 31; i >= 0; i--) {
        int s = (int)d->acc[i] - h[i] - borrow;
        borrow = s < 0;
        d->acc[i] = (uint8_t)(s + (borrow ? 256 : 0));
    }
    d->count--;
}

void
pdigest_final(uint8_t out[32], enum proj_id p, const struct pdigest *d)
{
    static const char ctx[] = "ledger/projection/v1";
    uint8_t buf[sizeof ctx + 32 + 1 + 4 + 8 + 32];
    size_t n = 0, nl = strlen(proj_defs[p].name);
    memcpy(buf, ctx, sizeof ctx); /* with its NUL */
    n = sizeof ctx;
    memcpy(buf + n, proj_defs[p].name, nl);
    n += nl;
    buf[n++] = 0x00;
    for (int i = 3; i >= 0; i--)
        buf[n++] = (uint8_t)(proj_defs[p].version >> (8 * i));
    for (int i = 7; i >= 0; i--)
        buf[n++] = (uint8_t)(d->count >> (8 * i));
    memcpy(buf + n, d->acc, 32);
    n += 32;
    LDG_ASSERT(n <= sizeof buf);
    ldg_sha256(out, buf, n);
}

int
ps_flush(struct pstate *ps)
{
    int rc = 0;
    size_t i;
    if (ps->t == NULL || !ps->writable)
        return LDG_EINVAL;
    for (i = 0; i < ps->ndirty; i++) {
        struct pentry *e = ps->dirty[i];
        enum proj_id p = e->rt->proj;
        uint8_t *val = NULL, h[32], buf[PROJ_KEY_MAX + 2];
        const uint8_t *dk;
        size_t vlen, dn;
        e->queued = 0;
        if (!e->dirty)
            continue;
        if ((rc = rec_encode(e->rt, e->rec, &val, &vlen)) < 0)
            break;
        record_hash(h, e->key, e->klen, val, vlen);
        if (e->has_old && memcmp(h, e->old_hash, 32) == 0) {
            free(val);
            e->dirty = 0;
            continue;
        }
        if ((dk = db_key(ps, p, e->key, e->klen, buf, &dn)) == NULL)
            rc = LDG_EINVAL;
        else
            rc = ldg_kv_put(ps->t, ps->dbi[p], dk, dn, val, vlen);
        free(val);
        if (rc < 0)
            break;
        if (e->has_old)
            pdigest_sub(&ps->dig[p], e->old_hash);
        pdigest_add(&ps->dig[p], h);
        memcpy(e->old_hash, h, 32);
        e->has_old = 1;
        e->dirty = 0;
    }
    if (rc < 0) {
        for (; i < ps->ndirty; i++)
            ps->dirty[i]->queued = 0;
    }
    ps->ndirty = 0;
    return rc;
}

int
ps_digest_all(struct pstate *ps, struct pdigest out[P_COUNT])
{
    memset(out, 0, sizeof(struct pdigest) * P_COUNT);
    for (size_t i = 0; i < ps->cap; i++) {
        struct pentry *e = ps->slots[i];
        uint8_t *val, h[32];
        size_t vlen;
        int rc;
        if (e == NULL)
            continue;
        if ((rc = rec_encode(e->rt, e->rec, &val, &vlen)) < 0)
            return rc;
        record_hash(h, e->key, e->klen, val, vlen);
        free(val);
        pdigest_add(&out[e->rt->proj], h);
    }
    return 0;
}

int
ps_digest_over(struct pstate *ps, struct pdigest d[P_COUNT])
{
    for (size_t i = 0; i < ps->cap; i++) {
        struct pentry *e = ps->slots[i];
        enum proj_id p;
        struct ldg_val v;
        uint8_t *val, h[32];
        size_t vlen;
        int rc;
        if (e == NULL)
            continue;
        p = e->rt->proj;
        LDG_ASSERT(ps->t != NULL && !ps->horizon);
        rc = ps->have_db[p] ? ldg_kv_get(ps->t, ps->dbi[p], e->key, e->klen, &v)
                            : LDG_ENOTFOUND;
        if (rc < 0 && rc != LDG_ENOTFOUND)
            return rc;
        if (rc == 0) {
            record_hash(h, e->key, e->klen, v.data, v.len);
            pdigest_sub(&d[p], h);
        }
        if ((rc = rec_encode(e->rt, e->rec, &val, &vlen)) < 0)
            return rc;
        record_hash(h, e->key, e->klen, val, vlen);
        free(val);
        pdigest_add(&d[p], h);
    }
    return 0;
}

int
ps_load_snapshot(struct pstate *ps, struct ldg_txn *t)
{
    struct ldg_cursor *c = NULL;
    struct ldg_val k, v;
    ldg_dbi dbi;
    int rc;

    if (ps->t != NULL)
        return LDG_EINVAL; /* memory-only states start from a snapshot */
    rc = ldg_db_open(t, PROJ_HORIZON_DB, 0, &dbi);
    if (rc == LDG_ENOTFOUND)
        return LDG_ECORRUPT; /* pruned, and no state kept: say so */
    if (rc < 0 || (rc = ldg_cursor_open(t, dbi, &c)) < 0)
        return rc;
    for (rc = ldg_cursor_get(c, LDG_FIRST, NULL, 0, &k, &v); rc == 0;
         rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v)) {
        const uint8_t *key = (const uint8_t *)k.data + 1;
        size_t klen = k.len - 1;
        enum proj_id p;
        const struct rtype *rt;
        void *rec;
        if (k.len < 2)
            continue;
        if (((const uint8_t *)k.data)[0] >= P_COUNT)
            continue; /* the verified index's keys (verified.c) */
        p = (enum proj_id)((const uint8_t *)k.data)[0];
        if (!(ps->mask & (1u << p)))
            continue;
        if ((rt = rtype_of(p, key[0])) == NULL) {
            rc = LDG_ECORRUPT;
            break;
        }
        if ((rc = rec_decode(rt, v.data, v.len, &rec)) < 0)
            break;
        if (insert(ps, p, key[0], key, klen, khash(p, key, klen), rec, 0) ==
            NULL) {
            rec_free(rt, rec);
            rc = LDG_ENOMEM;
            break;
        }
    }
    ldg_cursor_close(c);
    return rc == LDG_ENOTFOUND ? 0 : rc;
}
