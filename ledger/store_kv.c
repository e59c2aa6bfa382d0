/*
 * store_kv.c — the store's records (store_int.h): gets, puts, deletes
 * and cursors over LMDB, and the reads of a transaction with an overlay,
 * its writes over the snapshot.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "ledger/overlay_int.h"
#include "ledger/store_int.h"

/*
 * A transaction with an overlay reads an LMDB snapshot (a read
 * transaction) and keeps its writes in memory (overlay.c): every get,
 * put, delete and cursor step of this file's wrappers sees the snapshot
 * with the overlay's changes over it, as a write transaction would see
 * its own changes, so the append path's code runs on it unchanged.
 *
 * A cursor merges two ordered sources: the snapshot's records through an
 * LMDB cursor, less those the overlay hides (a node of the same key, or
 * pair in a database of duplicates, a deleted key, a cleared database),
 * and the overlay's live nodes. It keeps the next candidate of each in
 * the direction it last moved, and steps the one it took; after a change
 * to the overlay (its version moved) or a turn, it seeks both again from
 * the item it is on. Page counts (ldg_db_bytes, sizes, the page check)
 * are the snapshot's.
 */
static int
dbi_dup(MDB_txn *txn, MDB_dbi dbi)
{
    unsigned f = 0;
    return mdb_dbi_flags(txn, dbi, &f) == 0 && (f & MDB_DUPSORT);
}

struct ldg_ovl_map *
store_ovl_map_of(struct ldg_txn *t, MDB_dbi dbi, int create)
{
    return ldg_ovl_map(t->ov, dbi, dbi_dup(t->txn, dbi), create);
}

/* Does the overlay leave the snapshot's record (k, v) visible? */
static int
base_visible(const struct ldg_ovl_map *m, const MDB_val *k, const MDB_val *v)
{
    if (m == NULL)
        return 1;
    if (ldg_ovl_map_cleared(m))
        return 0;
    if (!ldg_ovl_map_dup(m))
        return ldg_ovl_find(m, k->mv_data, k->mv_size, NULL, 0) == NULL;
    return ldg_ovl_keydel(m, k->mv_data, k->mv_size) == NULL &&
           ldg_ovl_find(m, k->mv_data, k->mv_size, v->mv_data, v->mv_size) ==
               NULL;
}

static int
node_live(const struct ldg_ovl_node *n)
{
    const uint8_t *k, *v;
    size_t kl, vl;
    unsigned f;
    ldg_ovl_node_get(n, &k, &kl, &v, &vl, &f);
    return !(f & (LDG_OVL_DEL | LDG_OVL_KEYDEL));
}

static void
node_item(const struct ldg_ovl_node *n, struct ovl_item *it)
{
    ldg_ovl_node_get(n, &it->k, &it->kl, &it->v, &it->vl, NULL);
}

/* The overlay's first live node from n on, in direction dir. */
static const struct ldg_ovl_node *
ovl_live(const struct ldg_ovl_map *m, const struct ldg_ovl_node *n, int dir)
{
    while (n != NULL && !node_live(n))
        n = dir > 0 ? ldg_ovl_next(n) : ldg_ovl_prev(m, n);
    return n;
}

/* Moves the base cursor by op, then on in direction dir past what the
 * overlay hides; c->b_ok and c->b say where it is. */
static int
base_move(struct ldg_cursor *c, const struct ldg_ovl_map *m, MDB_cursor_op op,
          int dir)
{
    MDB_val k, v;
    int rc = mdb_cursor_get(c->c, &k, &v, op);
    while (rc == 0 && !base_visible(m, &k, &v))
        rc = mdb_cursor_get(c->c, &k, &v, dir > 0 ? MDB_NEXT : MDB_PREV);
    c->b_ok = rc == 0;
    if (rc == 0) {
        c->b.k = k.mv_data;
        c->b.kl = k.mv_size;
        c->b.v = v.mv_data;
        c->b.vl = v.mv_size;
        return 0;
    }
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* The base cursor on the snapshot's first record at or after (k, v)
 * (strict: after), without regard to the overlay. v NULL: the key's
 * first; LDG_OVL_VMAX: past its last. MDB_NOTFOUND past the end. */
static int
base_seek_raw(struct ldg_cursor *c, const void *key, size_t kl, const void *val,
              size_t vl, int strict)
{
    MDB_val k = {kl, (void *)(uintptr_t)key}, v = {vl, (void *)(uintptr_t)val};
    int rc;

    if (!c->dup || val == NULL) {
        rc = mdb_cursor_get(c->c, &k, &v, MDB_SET_RANGE);
        if (rc == 0 && strict && k.mv_size == kl &&
            (kl == 0 || memcmp(k.mv_data, key, kl) == 0))
            rc = mdb_cursor_get(c->c, &k, &v,
                                c->dup ? MDB_NEXT_NODUP : MDB_NEXT);
        return rc;
    }
    if (val != LDG_OVL_VMAX) {
        rc = mdb_cursor_get(c->c, &k, &v, MDB_GET_BOTH_RANGE);
        if (rc == 0) {
            if (strict && v.mv_size == vl &&
                (vl == 0 || memcmp(v.mv_data, val, vl) == 0))
                rc = mdb_cursor_get(c->c, &k, &v, MDB_NEXT);
            return rc;
        }
        if (rc != MDB_NOTFOUND)
            return rc;
    }
    /* past every duplicate of key: the next key's first */
    k.mv_size = kl;
    k.mv_data = (void *)(uintptr_t)key;
    rc = mdb_cursor_get(c->c, &k, &v, MDB_SET_RANGE);
    if (rc == 0 && k.mv_size == kl &&
        (kl == 0 || memcmp(k.mv_data, key, kl) == 0))
        rc = mdb_cursor_get(c->c, &k, &v, MDB_NEXT_NODUP);
    return rc;
}

/* The snapshot's candidate at or after (strict: after) (k, v), dir +1, or
 * at or before (strict: before), dir -1, past what the overlay hides. */
static int
base_seek(struct ldg_cursor *c, const struct ldg_ovl_map *m, const void *k,
          size_t kl, const void *v, size_t vl, int strict, int dir)
{
    int rc;
    if (m != NULL && ldg_ovl_map_cleared(m)) {
        c->b_ok = 0;
        return 0;
    }
    if (dir > 0) {
        rc = base_seek_raw(c, k, kl, v, vl, strict);
        if (rc == MDB_NOTFOUND) {
            c->b_ok = 0;
            return 0;
        }
        if (rc != 0)
            return rc;
        return base_move(c, m, MDB_GET_CURRENT, +1);
    }
    /* before: the one before the first that is not */
    rc = base_seek_raw(c, k, kl, v, vl, !strict);
    if (rc == MDB_NOTFOUND)
        return base_move(c, m, MDB_LAST, -1);
    if (rc != 0)
        return rc;
    return base_move(c, m, MDB_PREV, -1);
}

static void
ovl_seek(struct ldg_cursor *c, const struct ldg_ovl_map *m, const void *k,
         size_t kl, const void *v, size_t vl, int strict, int dir)
{
    if (m == NULL) {
        c->o = NULL;
        return;
    }
    c->o = dir > 0 ? ldg_ovl_seek(m, k, kl, v, vl, strict)
                   : ldg_ovl_seek_le(m, k, kl, v, vl, strict);
    c->o = ovl_live(m, c->o, dir);
}

/* Takes the nearer candidate in direction dir as the cursor's item. */
static int
pick(struct ldg_cursor *c, int dir)
{
    struct ovl_item oi;
    int take_o;
    c->dir = dir;
    c->ver = ldg_ovl_version(c->t->ov);
    c->deleted = 0;
    if (c->o != NULL)
        node_item(c->o, &oi);
    if (!c->b_ok && c->o == NULL) {
        c->pos = 0;
        return MDB_NOTFOUND;
    }
    if (!c->b_ok)
        take_o = 1;
    else if (c->o == NULL)
        take_o = 0;
    else
        take_o = ldg_ovl_cmp(c->dup, oi.k, oi.kl, oi.v, oi.vl, c->b.k, c->b.kl,
                             c->b.v, c->b.vl) *
                     dir <
                 0;
    c->from_o = take_o;
    c->cur = take_o ? oi : c->b;
    c->pos = 1;
    return 0;
}

/* Both sources sought from (k, v), then the nearer taken. */
static int
seek_both(struct ldg_cursor *c, const void *k, size_t kl, const void *v,
          size_t vl, int strict, int dir)
{
    struct ldg_ovl_map *m = store_ovl_map_of(c->t, c->dbi, 0);
    int rc = base_seek(c, m, k, kl, v, vl, strict, dir);
    if (rc != 0)
        return rc;
    ovl_seek(c, m, k, kl, v, vl, strict, dir);
    return pick(c, dir);
}

/* One step in direction dir from the cursor's item. */
static int
step(struct ldg_cursor *c, int dir)
{
    struct ldg_ovl_map *m = store_ovl_map_of(c->t, c->dbi, 0);
    int rc;
    if (c->dir != dir || c->ver != ldg_ovl_version(c->t->ov)) {
        struct ovl_item at = c->cur;
        return seek_both(c, at.k, at.kl, c->dup ? at.v : NULL, at.vl, 1, dir);
    }
    if (c->from_o) {
        c->o = dir > 0 ? ldg_ovl_next(c->o) : ldg_ovl_prev(m, c->o);
        c->o = ovl_live(m, c->o, dir);
    } else if ((rc = base_move(c, m, dir > 0 ? MDB_NEXT : MDB_PREV, dir)) !=
               0) {
        return rc;
    }
    return pick(c, dir);
}

static int
same_key(const struct ovl_item *a, const void *k, size_t kl)
{
    return a->kl == kl && (kl == 0 || memcmp(a->k, k, kl) == 0);
}

static int
ovl_cursor_get(struct ldg_cursor *c, enum ldg_seek op, const void *key,
               size_t klen, struct ldg_val *k, struct ldg_val *v)
{
    struct ldg_ovl_map *m = store_ovl_map_of(c->t, c->dbi, 0);
    struct ovl_item save = c->cur;
    int rc, pos = c->pos;

    switch (op) {
    case LDG_FIRST:
        c->b_ok = 0;
        if ((m == NULL || !ldg_ovl_map_cleared(m)) &&
            (rc = base_move(c, m, MDB_FIRST, +1)) != 0)
            return store_xlate(rc);
        c->o = m != NULL ? ovl_live(m, ldg_ovl_first(m), +1) : NULL;
        rc = pick(c, +1);
        break;
    case LDG_LAST:
        c->b_ok = 0;
        if ((m == NULL || !ldg_ovl_map_cleared(m)) &&
            (rc = base_move(c, m, MDB_LAST, -1)) != 0)
            return store_xlate(rc);
        c->o = m != NULL ? ovl_live(m, ldg_ovl_last(m), -1) : NULL;
        rc = pick(c, -1);
        break;
    case LDG_NEXT:
    case LDG_PREV:
        if (!pos)
            return ovl_cursor_get(c, op == LDG_NEXT ? LDG_FIRST : LDG_LAST,
                                  NULL, 0, k, v);
        rc = step(c, op == LDG_NEXT ? +1 : -1);
        break;
    case LDG_SET_RANGE:
    case LDG_SET_KEY:
        rc = seek_both(c, key, klen, NULL, 0, 0, +1);
        if (rc == 0 && op == LDG_SET_KEY && !same_key(&c->cur, key, klen)) {
            c->pos = 0;
            rc = MDB_NOTFOUND;
        }
        break;
    case LDG_GET_BOTH_RANGE:
        if (v == NULL)
            return LDG_EINVAL;
        rc = seek_both(c, key, klen, v->data, v->len, 0, +1);
        if (rc == 0 && !same_key(&c->cur, key, klen)) {
            c->pos = 0;
            rc = MDB_NOTFOUND;
        }
        break;
    case LDG_NEXT_DUP:
    case LDG_PREV_DUP:
        if (!pos || c->deleted)
            return LDG_ENOTFOUND;
        rc = step(c, op == LDG_NEXT_DUP ? +1 : -1);
        if (rc == 0 && !same_key(&c->cur, save.k, save.kl))
            rc = MDB_NOTFOUND;
        if (rc == MDB_NOTFOUND) {
            /* stays on the item it was on, as LMDB's does */
            c->cur = save;
            c->pos = 1;
            c->ver = ldg_ovl_version(c->t->ov) - 1; /* candidates stale */
            return LDG_ENOTFOUND;
        }
        break;
    case LDG_LAST_DUP:
        if (!pos)
            return LDG_EINVAL;
        rc = seek_both(c, save.k, save.kl, c->dup ? LDG_OVL_VMAX : NULL, 0, 0,
                       -1);
        break;
    case LDG_NEXT_NODUP:
        if (!pos)
            return ovl_cursor_get(c, LDG_FIRST, NULL, 0, k, v);
        rc = seek_both(c, save.k, save.kl, c->dup ? LDG_OVL_VMAX : NULL, 0,
                       !c->dup, +1);
        break;
    default:
        return LDG_EINVAL;
    }
    if (rc != 0)
        return store_xlate(rc);
    if (k != NULL) {
        k->data = c->cur.k;
        k->len = c->cur.kl;
    }
    if (v != NULL) {
        v->data = c->cur.v;
        v->len = c->cur.vl;
    }
    return 0;
}

/* Is (k, v) (v unused without duplicates) in t's view? *val gets the
 * value. */
static int
ovl_get(struct ldg_txn *t, MDB_dbi dbi, const void *key, size_t klen,
        const void *val, size_t vlen, struct ldg_val *out)
{
    struct ldg_ovl_map *m = store_ovl_map_of(t, dbi, 0);
    MDB_val k = {klen, (void *)(uintptr_t)key},
            v = {vlen, (void *)(uintptr_t)val};
    const struct ldg_ovl_node *n;
    int rc;

    if (m != NULL && (n = ldg_ovl_find(m, key, klen, val, vlen)) != NULL) {
        const uint8_t *nk, *nv;
        size_t nkl, nvl;
        unsigned f;
        ldg_ovl_node_get(n, &nk, &nkl, &nv, &nvl, &f);
        if (f & (LDG_OVL_DEL | LDG_OVL_KEYDEL))
            return LDG_ENOTFOUND;
        if (out != NULL) {
            out->data = nv;
            out->len = nvl;
        }
        return 0;
    }
    if (m != NULL && (ldg_ovl_map_cleared(m) ||
                      (val != NULL && ldg_ovl_keydel(m, key, klen) != NULL)))
        return LDG_ENOTFOUND;
    if (val == NULL) {
        rc = mdb_get(t->txn, dbi, &k, &v);
    } else {
        MDB_cursor *c;
        if ((rc = mdb_cursor_open(t->txn, dbi, &c)) != 0)
            return store_xlate(rc);
        rc = mdb_cursor_get(c, &k, &v, MDB_GET_BOTH);
        mdb_cursor_close(c);
    }
    if (rc == 0 && out != NULL) {
        out->data = v.mv_data;
        out->len = v.mv_size;
    }
    return store_xlate(rc);
}

/* The first of key's values in t's view (a database of duplicates: its
 * first duplicate). */
static int
ovl_kv_get(struct ldg_txn *t, MDB_dbi dbi, const void *key, size_t klen,
           struct ldg_val *val)
{
    struct ldg_cursor *c;
    int rc;
    if (!dbi_dup(t->txn, dbi))
        return ovl_get(t, dbi, key, klen, NULL, 0, val);
    if ((rc = ldg_cursor_open(t, dbi, &c)) < 0)
        return rc;
    rc = ldg_cursor_get(c, LDG_SET_KEY, key, klen, NULL, val);
    ldg_cursor_close(c);
    return rc;
}

/* Puts (k, v): a new value of k, or a duplicate of it. */
static int
ovl_put(struct ldg_txn *t, MDB_dbi dbi, const void *key, size_t klen,
        const void *val, size_t vlen)
{
    struct ldg_ovl_map *m = store_ovl_map_of(t, dbi, 1);
    int dup, had;
    if (m == NULL)
        return LDG_ENOMEM;
    dup = ldg_ovl_map_dup(m);
    if (klen == 0 || klen > 511 || (dup && vlen > 511))
        return LDG_ECORRUPT; /* LMDB's MDB_BAD_VALSIZE */
    /* whether it is there already: a failed read (out of memory) is no
     * answer, and taken as "no" it counted a record twice */
    had = ovl_get(t, dbi, key, klen, dup ? val : NULL, vlen, NULL);
    if (had < 0 && had != LDG_ENOTFOUND)
        return had;
    had = had == 0;
    if (dup && had)
        return 0;
    if (ldg_ovl_set(t->ov, m, key, klen, val, vlen, 0) < 0)
        return LDG_ENOMEM;
    if (!had)
        ldg_ovl_map_add_delta(m, 1);
    return 0;
}

static int
ovl_del(struct ldg_txn *t, MDB_dbi dbi, const void *key, size_t klen,
        const void *val, size_t vlen)
{
    struct ldg_ovl_map *m = store_ovl_map_of(t, dbi, 1);
    struct ldg_cursor *c;
    int64_t n = 0;
    int rc;

    if (m == NULL)
        return LDG_ENOMEM;
    if (!ldg_ovl_map_dup(m) || val != NULL) {
        if ((rc = ovl_get(t, dbi, key, klen, ldg_ovl_map_dup(m) ? val : NULL,
                          vlen, NULL)) < 0)
            return rc;
        if (ldg_ovl_set(t->ov, m, key, klen, val, vlen, LDG_OVL_DEL) < 0)
            return LDG_ENOMEM;
        ldg_ovl_map_add_delta(m, -1);
        return 0;
    }
    /* every duplicate of key: the overlay's are deleted one by one, the
     * snapshot's hidden at once */
    if ((rc = ldg_cursor_open(t, dbi, &c)) < 0)
        return rc;
    for (rc = ldg_cursor_get(c, LDG_SET_KEY, key, klen, NULL, NULL); rc == 0;
         rc = ldg_cursor_get(c, LDG_NEXT_DUP, NULL, 0, NULL, NULL))
        n++;
    ldg_cursor_close(c);
    if (rc != LDG_ENOTFOUND)
        return rc;
    if (n == 0)
        return LDG_ENOTFOUND;
    for (const struct ldg_ovl_node *o = ldg_ovl_seek(m, key, klen, NULL, 0, 0);
         o != NULL; o = ldg_ovl_next(o)) {
        struct ovl_item it;
        node_item(o, &it);
        if (!same_key(&it, key, klen))
            break;
        if (node_live(o) &&
            ldg_ovl_set(t->ov, m, it.k, it.kl, it.v, it.vl, LDG_OVL_DEL) < 0)
            return LDG_ENOMEM;
    }
    if (ldg_ovl_set(t->ov, m, key, klen, NULL, 0, LDG_OVL_KEYDEL) < 0)
        return LDG_ENOMEM;
    ldg_ovl_map_add_delta(m, -n);
    return 0;
}

/* The greatest key in t's view of dbi (LDG_ENOTFOUND when empty). */
static int
ovl_last_key(struct ldg_txn *t, MDB_dbi dbi, struct ldg_val *k)
{
    struct ldg_cursor *c;
    int rc;
    if ((rc = ldg_cursor_open(t, dbi, &c)) < 0)
        return rc;
    rc = ldg_cursor_get(c, LDG_LAST, NULL, 0, k, NULL);
    ldg_cursor_close(c);
    return rc;
}

int
ldg_store_txn_begin_overlay(struct ldg_store *s, struct ldg_ledger *l,
                            struct ldg_txn **out)
{
    int rc = ldg_store_txn_begin(s, l, 0, out);
    if (rc < 0)
        return rc;
    if (((*out)->ov = ldg_ovl_new()) == NULL) {
        ldg_txn_abort(*out);
        *out = NULL;
        return LDG_ENOMEM;
    }
    return 0;
}

/* Is dbi one of the core's databases? Those are written only by ledger/
 * (ldg_core_kv_put and friends), so append-only is a property of the API
 * and not a convention: the public writers refuse them. */
static int
refuse_core(struct ldg_txn *t, ldg_dbi dbi, const char *what)
{
    for (int i = 0; i < LDG_CORE_DBS; i++) {
        if (t->s->core[i] == dbi && !t->s->missing[i]) {
            if (t->l != NULL)
                ldg_seterr(t->l,
                           "%s: database '%s' belongs to the core and is "
                           "written only through ledger.h's append path",
                           what, ldg_core_db_names[i]);
            return 1;
        }
    }
    return 0;
}

int
ldg_db_drop(struct ldg_txn *t, ldg_dbi dbi, int del)
{
    if (t == NULL || refuse_core(t, dbi, "ldg_db_drop"))
        return LDG_EINVAL;
    return ldg_core_db_drop(t, dbi, del);
}

int
ldg_core_db_drop(struct ldg_txn *t, ldg_dbi dbi, int del)
{
    if (t->ov != NULL) {
        struct ldg_ovl_map *m;
        uint64_t n = 0;
        int rc;
        if (del) /* a database cannot leave a snapshot */
            return LDG_EINVAL;
        if ((rc = ldg_db_count(t, dbi, &n)) < 0)
            return rc;
        if ((m = store_ovl_map_of(t, dbi, 1)) == NULL)
            return LDG_ENOMEM;
        ldg_ovl_map_clear(t->ov, m);
        {
            MDB_stat st;
            if ((rc = mdb_stat(t->txn, dbi, &st)) != 0)
                return store_xlate(rc);
            ldg_ovl_map_add_delta(m, -(int64_t)st.ms_entries);
        }
        return 0;
    }
    return store_xlate(mdb_drop(t->txn, dbi, del ? 1 : 0));
}

int
ldg_kv_get(struct ldg_txn *t, ldg_dbi dbi, const void *key, size_t klen,
           struct ldg_val *val)
{
    MDB_val k = {klen, (void *)(uintptr_t)key}, v;
    int rc;
    if (t->ov != NULL)
        return ovl_kv_get(t, dbi, key, klen, val);
    rc = mdb_get(t->txn, dbi, &k, &v);
    if (rc != 0)
        return store_xlate(rc);
    val->data = v.mv_data;
    val->len = v.mv_size;
    return 0;
}

int
ldg_kv_put(struct ldg_txn *t, ldg_dbi dbi, const void *key, size_t klen,
           const void *val, size_t vlen)
{
    if (t == NULL || refuse_core(t, dbi, "ldg_kv_put"))
        return LDG_EINVAL;
    return ldg_core_kv_put(t, dbi, key, klen, val, vlen);
}

int
ldg_core_kv_put(struct ldg_txn *t, ldg_dbi dbi, const void *key, size_t klen,
                const void *val, size_t vlen)
{
    MDB_val k = {klen, (void *)(uintptr_t)key};
    MDB_val v = {vlen, (void *)(uintptr_t)val};
    if (t->ov != NULL)
        return ovl_put(t, dbi, key, klen, val, vlen);
    return store_xlate(mdb_put(t->txn, dbi, &k, &v, 0));
}

int
ldg_kv_put_new(struct ldg_txn *t, ldg_dbi dbi, const void *key, size_t klen,
               const void *val, size_t vlen)
{
    MDB_val k = {klen, (void *)(uintptr_t)key};
    MDB_val v = {vlen, (void *)(uintptr_t)val};
    if (t->ov != NULL) {
        /* as MDB_APPEND: a key not past the last is refused */
        struct ldg_val last;
        int rc = ovl_last_key(t, dbi, &last);
        if (rc == 0 && ldg_ovl_cmp(0, key, klen, NULL, 0, last.data, last.len,
                                   NULL, 0) <= 0)
            return LDG_EEXIST;
        if (rc < 0 && rc != LDG_ENOTFOUND)
            return rc;
        return ovl_put(t, dbi, key, klen, val, vlen);
    }
    return store_xlate(
        mdb_put(t->txn, dbi, &k, &v, MDB_NOOVERWRITE | MDB_APPEND));
}

/* One more duplicate, the greatest of its key as a rule (an index's seq):
 * appended without a search of the duplicates; one that is not the
 * greatest goes in the ordinary way, and one already there is left. */
int
ldg_core_kv_put_dup(struct ldg_txn *t, ldg_dbi dbi, const void *key,
                    size_t klen, const void *val, size_t vlen)
{
    MDB_val k = {klen, (void *)(uintptr_t)key};
    MDB_val v = {vlen, (void *)(uintptr_t)val};
    int rc;
    if (t->ov != NULL)
        return ovl_put(t, dbi, key, klen, val, vlen);
    rc = mdb_put(t->txn, dbi, &k, &v, MDB_APPENDDUP);
    if (rc == MDB_KEYEXIST) {
        k.mv_size = klen;
        k.mv_data = (void *)(uintptr_t)key;
        v.mv_size = vlen;
        v.mv_data = (void *)(uintptr_t)val;
        rc = mdb_put(t->txn, dbi, &k, &v, MDB_NODUPDATA);
        if (rc == MDB_KEYEXIST)
            rc = 0;
    }
    return store_xlate(rc);
}

/* n duplicates of `each` bytes at vals, ascending and past key's others,
 * in requests of many (MDB_MULTIPLE): a new key that sorts last goes in
 * without a search (MDB_APPEND), a key there already gets them at the end
 * of its duplicates (MDB_APPENDDUP), anything else the ordinary way. */
int
ldg_core_kv_put_dups(struct ldg_txn *t, ldg_dbi dbi, const void *key,
                     size_t klen, const void *vals, size_t each, size_t n)
{
    static const unsigned tries[] = {MDB_MULTIPLE | MDB_APPEND | MDB_APPENDDUP,
                                     MDB_MULTIPLE | MDB_APPENDDUP,
                                     MDB_MULTIPLE};
    const uint8_t *p = vals;
    MDB_cursor *c = NULL;
    size_t i = 0;
    int rc;

    if (t->ov != NULL) {
        for (size_t j = 0; j < n; j++)
            if ((rc = ovl_put(t, dbi, key, klen, p + j * each, each)) < 0)
                return rc;
        return 0;
    }
    rc = mdb_cursor_open(t->txn, dbi, &c);

    while (rc == 0 && n > 0) {
        MDB_val k = {klen, (void *)(uintptr_t)key};
        MDB_val d[2] = {{each, (void *)(uintptr_t)p}, {n, NULL}};
        rc = mdb_cursor_put(c, &k, d, tries[i]);
        if (rc == MDB_KEYEXIST && i + 1 < sizeof tries / sizeof tries[0]) {
            i++;
            rc = 0;
            continue;
        }
        if (rc == 0) {
            size_t done = d[1].mv_size ? d[1].mv_size : n;
            p += done * each;
            n -= done < n ? done : n;
        }
    }
    if (c != NULL)
        mdb_cursor_close(c);
    return store_xlate(rc);
}

int
ldg_core_kv_get_both(struct ldg_txn *t, ldg_dbi dbi, const void *key,
                     size_t klen, const void *val, size_t vlen)
{
    MDB_val k = {klen, (void *)(uintptr_t)key};
    MDB_val v = {vlen, (void *)(uintptr_t)val};
    MDB_cursor *c;
    int rc;
    if (t->ov != NULL)
        return ovl_get(t, dbi, key, klen, val, vlen, NULL);
    rc = mdb_cursor_open(t->txn, dbi, &c);
    if (rc != 0)
        return store_xlate(rc);
    rc = mdb_cursor_get(c, &k, &v, MDB_GET_BOTH);
    mdb_cursor_close(c);
    return store_xlate(rc);
}

int
ldg_kv_del(struct ldg_txn *t, ldg_dbi dbi, const void *key, size_t klen,
           const void *val, size_t vlen)
{
    if (t == NULL || refuse_core(t, dbi, "ldg_kv_del"))
        return LDG_EINVAL;
    return ldg_core_kv_del(t, dbi, key, klen, val, vlen);
}

int
ldg_core_kv_del(struct ldg_txn *t, ldg_dbi dbi, const void *key, size_t klen,
                const void *val, size_t vlen)
{
    MDB_val k = {klen, (void *)(uintptr_t)key};
    MDB_val v = {vlen, (void *)(uintptr_t)val};
    if (t->ov != NULL)
        return ovl_del(t, dbi, key, klen, val, vlen);
    return store_xlate(mdb_del(t->txn, dbi, &k, val ? &v : NULL));
}

int
ldg_cursor_del(struct ldg_cursor *c)
{
    if (c->t != NULL) {
        int rc;
        if (!c->pos || c->deleted)
            return LDG_EINVAL;
        rc = ovl_del(c->t, c->dbi, c->cur.k, c->cur.kl,
                     c->dup ? c->cur.v : NULL, c->cur.vl);
        c->deleted = rc == 0;
        return rc;
    }
    return store_xlate(mdb_cursor_del(c->c, 0));
}

int
ldg_cursor_open(struct ldg_txn *t, ldg_dbi dbi, struct ldg_cursor **out)
{
    struct ldg_cursor *c = calloc(1, sizeof *c);
    int rc;
    *out = NULL;
    if (c == NULL)
        return ldg_alloc_failed();
    rc = mdb_cursor_open(t->txn, dbi, &c->c);
    if (rc != 0) {
        free(c);
        return store_xlate(rc);
    }
    if (t->ov != NULL) {
        c->t = t;
        c->dbi = dbi;
        c->dup = dbi_dup(t->txn, dbi);
    }
    *out = c;
    return 0;
}

/*
 * Cache lines asked for ahead of a cursor step. LMDB puts each node it
 * adds to a leaf page just below the one before (mp_upper grows down), and
 * the log's databases are written in key order, so the next record of a
 * forward walk lies just below this one's node header (8 bytes before its
 * key) and the next of a backward walk just above its data. A walk over a
 * window of the log reads page after page that no cache holds: without
 * the hint each step stalls on its node's first line (84% of the samples
 * of mdb_cursor_next, in a 196,000-event time window, bench/RESULTS.md);
 * with it the lines are on their way a step or two early. 12 lines cover
 * about two entries or one and a half bodies; 6 to 32 measured the same.
 * A hint costs nothing when it is wrong (a page split, the end of a page):
 * a prefetch never faults.
 */
#ifndef PREFETCH_LINES
#define PREFETCH_LINES 12
#endif

int
ldg_cursor_get(struct ldg_cursor *c, enum ldg_seek op, const void *key,
               size_t klen, struct ldg_val *k, struct ldg_val *v)
{
    MDB_val mk = {klen, (void *)(uintptr_t)key}, mv = {0, NULL};
    MDB_cursor_op mop;
    int rc;

    /* an overlay's cursor merges; a reader's overlay holds what its tail
     * replayed and never changes after, so a database it left alone is
     * read as LMDB keeps it */
    if (c->t != NULL && !c->plain) {
        if (!c->t->reader || store_ovl_map_of(c->t, c->dbi, 0) != NULL)
            return ovl_cursor_get(c, op, key, klen, k, v);
        c->plain = 1;
    }
    switch (op) {
    case LDG_FIRST:
        mop = MDB_FIRST;
        break;
    case LDG_LAST:
        mop = MDB_LAST;
        break;
    case LDG_NEXT:
        mop = MDB_NEXT;
        break;
    case LDG_PREV:
        mop = MDB_PREV;
        break;
    case LDG_SET_RANGE:
        mop = MDB_SET_RANGE;
        break;
    case LDG_SET_KEY:
        mop = MDB_SET_KEY;
        break;
    case LDG_GET_BOTH_RANGE:
        if (v == NULL)
            return LDG_EINVAL;
        mop = MDB_GET_BOTH_RANGE;
        mv.mv_size = v->len;
        mv.mv_data = (void *)(uintptr_t)v->data;
        break;
    case LDG_NEXT_DUP:
        mop = MDB_NEXT_DUP;
        break;
    case LDG_PREV_DUP:
        mop = MDB_PREV_DUP;
        break;
    case LDG_LAST_DUP:
        mop = MDB_LAST_DUP;
        break;
    case LDG_NEXT_NODUP:
        mop = MDB_NEXT_NODUP;
        break;
    default:
        return LDG_EINVAL;
    }
    rc = mdb_cursor_get(c->c, &mk, &mv, mop);
    if (rc != 0)
        return store_xlate(rc);
    if (op == LDG_LAST_DUP) {
        /* LMDB gives the data only; the key is the cursor's */
        MDB_val dk, dv;
        if (mdb_cursor_get(c->c, &dk, &dv, MDB_GET_CURRENT) == 0)
            mk = dk;
    } else if (op < LDG_SET_KEY) {
        /* (in this function's body: gcc drops a helper holding only
         * prefetches as a pure call whose result is unused) */
        if (mop == MDB_PREV || mop == MDB_LAST) {
            const char *p = (const char *)mv.mv_data + mv.mv_size;
            for (int i = 0; i < PREFETCH_LINES; i++)
                __builtin_prefetch(p + 64 * i);
        } else {
            const char *p = (const char *)mk.mv_data - 8;
            for (int i = 1; i <= PREFETCH_LINES; i++)
                __builtin_prefetch(p - 64 * i);
        }
    }
    if (k != NULL) {
        k->data = mk.mv_data;
        k->len = mk.mv_size;
    }
    if (v != NULL) {
        v->data = mv.mv_data;
        v->len = mv.mv_size;
    }
    return 0;
}

void
ldg_cursor_close(struct ldg_cursor *c)
{
    if (c == NULL)
        return;
    mdb_cursor_close(c->c);
    free(c);
}

const char *
ldg_store_lib_version(void)
{
    static char v[48];
    int a, b, c;
    mdb_version(&a, &b, &c);
    snprintf(v, sizeof v, "lmdb %d.%d.%d", a, b, c);
    return v;
}
