/*
 * migrate_pack.c — `ledger migrate` from layout 4 on (migrate_int.h): the
 * entries and bodies written anew in the later layouts' forms, packed by
 * a pool of threads, in transactions of a bounded size.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger/index_int.h"
#include "ledger/log_int.h"
#include "ledger/tree_int.h"
#include "ledger/migrate_int.h"

/* ------------------------------------------------ layout 4 to layout 5 -- */

/*
 * Layout 5 keeps its entries and bodies in databases of their own
 * (entries5, bodies5), which layout 4 never reads. The steps copy the
 * events the log held when migrate began, a chunk a transaction, in seq
 * order, appending to them (full pages, as an append makes): each entry
 * in its stored form, once its prev is found to be the stored leaf of the
 * event before (what a reader of the stored form takes); each body as it
 * is, or, when the log is long enough to have a dictionary, a salted one
 * compressed with it where that is smaller (its salts stay: its
 * commitment binds them; no body is made seeded). The same transactions
 * write the body index (ix.body, FORMAT.md 6.1) from the body each copy
 * has in hand, inflated once. The last transaction copies the events
 * appended meanwhile, removes the copies of bodies they erased and their
 * keys, checks that the copies hold as many records as the originals,
 * empties entries and bodies, writes meta "layout" 5 and says ix.body is
 * current (meta "ix.body"). A crash before it leaves layout 4 with some
 * records in entries5, bodies5 and ix.body, none of which layout 4 reads
 * (the first transaction deleted meta "ix.body", so nothing takes ix.body
 * for current), and which the next run empties first.
 */
#define EV_CHUNK 16384

struct pack {
    uint64_t size0, hz0; /* the log's size and horizon when migrate began */
    uint64_t next;       /* the next event to copy */
    uint64_t entries, bodies;
    uint8_t prev[32]; /* the stored leaf of event next-1 */
    /* what a step's transaction leaves, taken once it commits */
    uint64_t next_step, entries_step, bodies_step;
    uint8_t prev_step[32];
    int moved;    /* the ledger is at layout 5 already (another migrate) */
    int form;     /* the entries' stored form (enum ldg_stored_form): to
                     layout 7 or 8, with their claim digests */
    uint8_t *buf; /* a record's room */
    size_t cap;
    struct pool *po; /* the bodies' packers */
    /* the full tile of leaf hashes last read (tile number tile_n), so
     * that the leaves are not sought one by one */
    uint8_t tile[LDG_TILE_BYTES];
    uint64_t tile_n;
    int tile_ok;
};

/* The stored leaf hash of event seq, from p's full tile when it holds it
 * (read once for its 256 events), else from the tree. */
static int
pack_leaf(struct ldg_txn *t, struct pack *p, uint64_t seq, uint8_t leaf[32])
{
    uint64_t n = seq / LDG_TILE_WIDTH;
    size_t count;
    int rc;
    if (!p->tile_ok || p->tile_n != n) {
        p->tile_ok = 0;
        rc = ldg_tree_tile_read(t, 0, n, p->tile, &count);
        if (rc < 0 && rc != LDG_ENOTFOUND)
            return rc;
        p->tile_n = n;
        p->tile_ok = rc == 0 && count == LDG_TILE_WIDTH;
    }
    if (!p->tile_ok)
        return ldg_tree_stored_hash(t, 0, seq, leaf);
    memcpy(leaf, p->tile + 32 * (seq % LDG_TILE_WIDTH), 32);
    return 0;
}

static int
pack_clear(struct ldg_txn *t, void *arg)
{
    struct pack *p = arg;
    struct ldg_ledger *l = ldg_txn_ledger(t);
    int layout = ldg_txn_layout(t), rc;
    if (layout < 0)
        return layout;
    if (layout >= LDG_LAYOUT_STORED) {
        p->moved = 1;
        return 0;
    }
    if ((rc = ldg_core_db_drop(t, ldg_core(l, LDG_DB_ENTRIES5), 0)) < 0 ||
        (rc = ldg_core_db_drop(t, ldg_core(l, LDG_DB_BODIES5), 0)) < 0 ||
        (rc = ldg_core_db_drop(t, ldg_core(l, LDG_DB_IX_BODY), 0)) < 0)
        return rc;
    /* ix.body is current again only when layout 5 is written */
    rc = ldg_core_kv_del(t, ldg_core(l, LDG_DB_META), LDG_META_IX_BODY,
                         sizeof LDG_META_IX_BODY - 1, NULL, 0);
    return rc == LDG_ENOTFOUND ? 0 : rc;
}

/*
 * A step's bodies are packed a batch at a time by this thread and, on a
 * machine of more than one CPU, a helper thread: each takes the next body
 * of the batch, opens its payload (inflating a legacy compressed one),
 * compresses a salted one with the dictionary into its own arena where
 * that is smaller and decodes the copy back to check it gives the very
 * map, and makes its ix.body keys from the map. Compression is about half
 * of a migrate's CPU. Then this thread alone writes the batch, in seq
 * order: each copy into bodies5 and its keys into ix.body. The helper
 * touches no LMDB handle: it reads the records this thread found (pages
 * of bodies, which the transaction does not change) and writes its own
 * memory. A batch holds PB_ITEMS bodies or PB_BYTES of records (and one
 * more), so the arenas stay within about that much.
 */
#define PB_ITEMS 4096
#define PB_BYTES ((size_t)8 << 20)

struct pitem {
    uint64_t seq;
    const uint8_t *rec; /* the stored record (the transaction's page) */
    size_t len;
    int rc;          /* 1 packed into the arena, 0 copied as is, or < 0 */
    int keyed;       /* its keys made (else read from rec when written) */
    unsigned who;    /* the packer that took it */
    size_t off, n;   /* the packed record in who's arena */
    size_t koff, kn; /* its keys in who's keys */
};

struct packer {
    struct ldg_inflate s, back; /* a body inflated, and its copy's */
    struct ldg_body_view *view; /* of the body inflated, for its keys */
    uint8_t *arena;
    size_t alen, acap;
    struct ldg_bix_keys keys;
};

struct pool {
    const struct ldg_dicts *d;
    const struct ldg_cdict *cd; /* NULL: bodies are copied as they are */
    size_t max;
    struct pitem *items;
    size_t n;
    size_t next; /* the next item to take (atomic) */
    struct packer pk[2];
    pthread_t th;
    int threaded;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    unsigned gen, finished; /* the batch handed out, the helper's last */
    int quit;
};

/* Item it packed by packer who (see above). */
static void
pack_one(struct pool *po, unsigned who, struct pitem *it)
{
    struct packer *pk = &po->pk[who];
    struct ldg_payload pl, back;
    size_t zn = 0;
    int rc;

    it->who = who;
    it->keyed = 0;
    it->rc = 0;
    if (it->len < 1 ||
        (it->rec[0] != LDG_BODY_RAW && it->rec[0] != LDG_BODY_ZSTD))
        return; /* (no such record in layout 4: copied, keys from rec) */
    rc = ldg_body_payload(po->d, it->rec, it->len, po->max, &pk->s, &pl);
    if (rc == 0 && po->cd != NULL) {
        /* room for ZSTD_compressBound(pl.len) and the record's head */
        size_t need = pl.len + pl.len / 128 + 128;
        if (pk->acap - pk->alen < need) {
            size_t cap =
                2 * pk->acap > pk->alen + need ? 2 * pk->acap : pk->alen + need;
            uint8_t *a = realloc(pk->arena, cap);
            if (a == NULL) {
                it->rc = LDG_ENOMEM;
                return;
            }
            pk->arena = a;
            pk->acap = cap;
        }
        rc = ldg_body_pack_salted(pl.map, pl.len, po->cd, it->len,
                                  pk->arena + pk->alen, need, &zn);
        if (rc == 1 &&
            (ldg_body_payload(po->d, pk->arena + pk->alen, zn, po->max,
                              &pk->back, &back) < 0 ||
             back.len != pl.len || memcmp(back.map, pl.map, pl.len) != 0))
            rc = LDG_ECORRUPT;
        if (rc == 1) {
            it->off = pk->alen;
            it->n = zn;
            pk->alen += zn;
        }
    }
    if ((it->rc = rc) < 0)
        return;
    it->koff = pk->keys.len;
    if (ldg_body_view_from_payload(pk->view, &pl) == 0 &&
        ldg_bix_view_keys(pk->view, &pk->keys) == 0) {
        it->kn = pk->keys.len - it->koff;
        it->keyed = 1;
    } else {
        pk->keys.len = it->koff;
    }
}

static void
pool_run(struct pool *po, unsigned who)
{
    size_t i;
    while ((i = __atomic_fetch_add(&po->next, 1, __ATOMIC_RELAXED)) < po->n)
        pack_one(po, who, &po->items[i]);
}

static void *
pool_helper(void *arg)
{
    struct pool *po = arg;
    unsigned seen = 0;

    pthread_mutex_lock(&po->mu);
    for (;;) {
        while (!po->quit && po->gen == seen)
            pthread_cond_wait(&po->go, &po->mu);
        if (po->quit)
            break;
        seen = po->gen;
        pthread_mutex_unlock(&po->mu);
        pool_run(po, 1);
        pthread_mutex_lock(&po->mu);
        po->finished = seen;
        pthread_cond_signal(&po->done);
    }
    pthread_mutex_unlock(&po->mu);
    return NULL;
}

/* The batch po->items[0..n) packed, by this thread and the helper. */
static void
pool_batch(struct pool *po)
{
    for (int i = 0; i < 2; i++) {
        po->pk[i].alen = 0;
        po->pk[i].keys.len = 0;
    }
    po->next = 0;
    if (po->threaded) {
        pthread_mutex_lock(&po->mu);
        po->gen++;
        pthread_cond_signal(&po->go);
        pthread_mutex_unlock(&po->mu);
    }
    pool_run(po, 0);
    if (po->threaded) {
        pthread_mutex_lock(&po->mu);
        while (po->finished != po->gen)
            pthread_cond_wait(&po->done, &po->mu);
        pthread_mutex_unlock(&po->mu);
    }
}

static void
pool_free(struct pool *po)
{
    if (po == NULL)
        return;
    if (po->threaded) {
        pthread_mutex_lock(&po->mu);
        po->quit = 1;
        pthread_cond_signal(&po->go);
        pthread_mutex_unlock(&po->mu);
        pthread_join(po->th, NULL);
    }
    pthread_mutex_destroy(&po->mu);
    pthread_cond_destroy(&po->go);
    pthread_cond_destroy(&po->done);
    for (int i = 0; i < 2; i++) {
        ldg_inflate_release(&po->pk[i].s);
        ldg_inflate_release(&po->pk[i].back);
        ldg_body_view_free(po->pk[i].view);
        free(po->pk[i].arena);
        free(po->pk[i].keys.buf);
    }
    free(po->items);
    free(po);
}

/* The packers, with a helper thread when there is a CPU for it. */
static int
pool_new(struct pool **out)
{
    struct pool *po = calloc(1, sizeof *po);
    int rc = LDG_ENOMEM;

    *out = NULL;
    if (po == NULL)
        return rc;
    pthread_mutex_init(&po->mu, NULL);
    pthread_cond_init(&po->go, NULL);
    pthread_cond_init(&po->done, NULL);
    if ((po->items = malloc(PB_ITEMS * sizeof *po->items)) == NULL ||
        (rc = ldg_body_view_new(&po->pk[0].view)) < 0 ||
        (rc = ldg_body_view_new(&po->pk[1].view)) < 0) {
        pool_free(po);
        return rc < 0 ? rc : LDG_ENOMEM;
    }
    po->threaded = sysconf(_SC_NPROCESSORS_ONLN) > 1 &&
                   pthread_create(&po->th, NULL, pool_helper, po) == 0;
    *out = po;
    return 0;
}

/* The packed batch written, in seq order: each copy into bodies5 and its
 * keys into ix.body (gathered in bb); *nb counts the bodies packed. */
static int
pack_write(struct ldg_txn *t, struct pool *po, struct ldg_bix_batch *bb,
           uint64_t *nb)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    ldg_dbi b5 = ldg_core(l, LDG_DB_BODIES5);

    for (size_t i = 0; i < po->n; i++) {
        const struct pitem *it = &po->items[i];
        const struct packer *pk = &po->pk[it->who];
        uint8_t key[8];
        int rc = it->rc;
        if (rc == LDG_ENOMEM)
            return rc;
        if (rc < 0) {
            ldg_seterr(l,
                       "migrate: event %llu: its body does not decode (%s); "
                       "%s (nothing was changed)",
                       (unsigned long long)it->seq, ldg_strerror(rc),
                       ldg_damage_remedy(l, 0));
            return rc;
        }
        if (it->keyed)
            rc = ldg_bix_batch_add_keys(bb, t, it->seq, pk->keys.buf + it->koff,
                                        it->kn);
        else
            rc = ldg_bix_batch_add(bb, t, it->seq, NULL, it->rec, it->len);
        if (rc < 0) {
            if (rc != LDG_EFULL) /* (in_txn grows the map and says so) */
                ldg_seterr(l,
                           "migrate: event %llu: cannot index its body (%s); "
                           "%s (nothing was changed)",
                           (unsigned long long)it->seq, ldg_strerror(rc),
                           ldg_damage_remedy(l, 0));
            return rc;
        }
        ldg_be64(key, it->seq);
        if (it->rc == 1)
            rc = ldg_kv_put_new(t, b5, key, 8, pk->arena + it->off, it->n);
        else
            rc = ldg_kv_put_new(t, b5, key, 8, it->rec, it->len);
        if (rc < 0)
            return rc;
        *nb += it->rc == 1;
    }
    return 0;
}

/* Copies events [from, to) into entries5 and bodies5, and their bodies'
 * keys into ix.body (in t, a write transaction still at layout 4); prev:
 * the stored leaf of event from-1, updated. */
static int
pack_range(struct ldg_txn *t, struct pack *p, uint64_t from, uint64_t to,
           uint8_t prev[32], uint64_t *ne, uint64_t *nb)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    const struct ldg_cdict *cd = ldg_ledger_cdict(l);
    ldg_dbi e5 = ldg_core(l, LDG_DB_ENTRIES5);
    struct ldg_bix_batch *bb = NULL;
    struct pool *po = p->po;
    struct ldg_cursor *c = NULL;
    struct ldg_val k, v;
    uint8_t key[8];
    uint64_t seq = from;
    int rc, rc2;

    *ne = *nb = 0;
    p->tile_ok = 0; /* read anew in each transaction */
    if (from >= to)
        return 0;
    if ((rc = ldg_cursor_open(t, ldg_core(l, LDG_DB_ENTRIES), &c)) < 0)
        return rc;
    ldg_be64(key, seq);
    rc = ldg_cursor_get(c, LDG_SET_RANGE, key, 8, &k, &v);
    while (rc == 0) {
        const uint8_t *e = v.data, *rec = e;
        size_t n = v.len;
        struct ldg_event ev;
        uint8_t leaf[32];
        if (k.len != 8 || ldg_rd_be64(k.data) != seq) {
            rc = LDG_ENOTFOUND;
            break;
        }
        LDG_ASSERT(from <= seq && seq < to);
        if ((rc = pack_leaf(t, p, seq, leaf)) < 0)
            break;
        if (n > 0 && e[0] == 0x93) {
            if (ldg_event_decode_flags(e, n, &ev, LDG_DECODE_TRUSTED) < 0 ||
                memcmp(ev.prev, prev, 32) != 0) {
                ldg_seterr(l,
                           "migrate: event %llu: its entry does not decode "
                           "or its prev is not the stored leaf of the event "
                           "before; %s (nothing was changed)",
                           (unsigned long long)seq, ldg_damage_remedy(l, 0));
                rc = LDG_ECORRUPT;
                break;
            }
            rc = ldg_entry_stored(e, n, p->form, p->buf, LDG_ENTRY_MAX, &n);
            if (rc < 0)
                break;
            rec = p->buf;
        }
        ldg_be64(key, seq);
        if ((rc = ldg_kv_put_new(t, e5, key, 8, rec, n)) < 0)
            break;
        (*ne)++;
        memcpy(prev, leaf, 32);
        if (++seq >= to)
            break;
        rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v);
    }
    ldg_cursor_close(c);
    if (rc == LDG_ENOTFOUND || (rc == 0 && seq < to)) {
        ldg_seterr(
            l,
            "migrate: event %llu is missing from the log; %s (nothing was "
            "changed)",
            (unsigned long long)seq, ldg_damage_remedy(l, 0));
        return LDG_ECORRUPT;
    }
    if (rc < 0)
        return rc;
    LDG_ASSERT(seq == to && *ne == to - from);
    if ((rc = ldg_bix_batch_new(&bb)) < 0)
        return rc;
    if ((rc = ldg_cursor_open(t, ldg_core(l, LDG_DB_BODIES), &c)) < 0)
        goto out;
    po->d = ldg_txn_dicts(t);
    po->cd = cd;
    po->max = l->opts.body_max_bytes;
    ldg_be64(key, from);
    rc = ldg_cursor_get(c, LDG_SET_RANGE, key, 8, &k, &v);
    while (rc == 0 && k.len == 8 && ldg_rd_be64(k.data) < to) {
        size_t bytes = 0;
        /* a batch of bodies, in seq order */
        po->n = 0;
        while (rc == 0 && k.len == 8 && ldg_rd_be64(k.data) < to &&
               po->n < PB_ITEMS && bytes < PB_BYTES) {
            struct pitem *it = &po->items[po->n++];
            it->seq = ldg_rd_be64(k.data);
            it->rec = v.data;
            it->len = v.len;
            bytes += v.len;
            rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v);
        }
        if (rc < 0 && rc != LDG_ENOTFOUND)
            break;
        LDG_ASSERT(po->n > 0 && po->n <= PB_ITEMS);
        pool_batch(po);
        if ((rc2 = pack_write(t, po, bb, nb)) < 0) {
            rc = rc2;
            break;
        }
    }
    if (rc == LDG_ENOTFOUND || rc == 0)
        rc = ldg_bix_batch_flush(bb, t);
out:
    ldg_cursor_close(c);
    ldg_bix_batch_free(bb);
    return rc;
}

/* 0 while t is still at layout 4 with the horizon migrate began with. */
static int
pack_same(struct ldg_txn *t, struct pack *p)
{
    int layout = ldg_txn_layout(t);
    if (layout < 0)
        return layout;
    if (layout >= LDG_LAYOUT_STORED) {
        p->moved = 1;
        return 1;
    }
    if (ldg_txn_horizon(t) != p->hz0) {
        ldg_seterr(ldg_txn_ledger(t),
                   "migrate: the ledger was pruned meanwhile; run ledger "
                   "migrate again (nothing was changed)");
        return LDG_EBUSY;
    }
    return 0;
}

static int
pack_step(struct ldg_txn *t, void *arg)
{
    struct pack *p = arg;
    uint64_t end =
        p->size0 - p->next > EV_CHUNK ? p->next + EV_CHUNK : p->size0;
    int rc = pack_same(t, p);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    LDG_ASSERT(p->next < end && end <= p->size0);
    memcpy(p->prev_step, p->prev, 32);
    rc = pack_range(t, p, p->next, end, p->prev_step, &p->entries_step,
                    &p->bodies_step);
    p->next_step = end;
    return rc;
}

/* The erasures among events [from, size) of t: their targets' copies in
 * bodies5 go. */
static int
pack_erasures(struct ldg_txn *t, uint64_t from, uint64_t size)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    for (uint64_t seq = from; seq < size; seq++) {
        struct ldg_event ev;
        json_t *body = NULL, *tg;
        uint8_t key[8];
        int rc = ldg_event_get_ex(t, seq, &ev, LDG_DECODE_TRUSTED);
        if (rc < 0)
            return rc;
        if (strcmp(ev.type, LDG_EV_BODY_ERASED) != 0)
            continue;
        if ((rc = ldg_body_get(t, seq, &body)) < 0)
            return rc;
        tg = json_object_get(body, "target_seq");
        if (json_is_integer(tg) && json_integer_value(tg) >= 0) {
            ldg_dbi b5 = ldg_core(l, LDG_DB_BODIES5);
            uint64_t target = (uint64_t)json_integer_value(tg);
            struct ldg_val v;
            ldg_be64(key, target);
            /* the copy's keys first, read from it, then the copy */
            rc = ldg_kv_get(t, b5, key, 8, &v);
            if (rc == 0)
                rc = ldg_bix_unindex(t, target, v.data, v.len);
            if (rc == 0)
                rc = ldg_core_kv_del(t, b5, key, 8, NULL, 0);
        }
        json_decref(body);
        if (rc < 0 && rc != LDG_ENOTFOUND)
            return rc;
    }
    return 0;
}

/* The layout whose entries are stored in form (enum ldg_stored_form),
 * and the form layout (5 or newer) stores its entries in. */
static int
form_layout(int form)
{
    return form == LDG_STORED_TAGGED  ? LDG_LAYOUT_TAGGED
           : form == LDG_STORED_STAMP ? LDG_LAYOUT_DIGEST
                                      : LDG_LAYOUT_STORED;
}

int
mig_layout_form(int layout)
{
    return layout >= LDG_LAYOUT_TAGGED   ? LDG_STORED_TAGGED
           : layout >= LDG_LAYOUT_DIGEST ? LDG_STORED_STAMP
                                         : LDG_STORED_CUT;
}

static int
pack_finish(struct ldg_txn *t, void *arg)
{
    struct pack *p = arg;
    struct ldg_ledger *l = ldg_txn_ledger(t);
    uint8_t lay[LDG_META_LAYOUT_LEN], prev[32];
    uint64_t size, ne, nb, n0, n5;
    int rc = pack_same(t, p);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    if ((rc = ldg_txn_size(t, &size)) < 0)
        return rc;
    memcpy(prev, p->prev, 32);
    /* the events appended since migrate began, and the bodies they
     * erased (whose copies may have been made before) */
    if ((rc = pack_range(t, p, p->size0, size, prev, &ne, &nb)) < 0 ||
        (rc = pack_erasures(t, p->size0, size)) < 0)
        return rc;
    p->entries_step = ne;
    p->bodies_step = nb;
    for (int i = 0; i < 2; i++) {
        enum ldg_core_db from = i ? LDG_DB_BODIES : LDG_DB_ENTRIES;
        enum ldg_core_db to = i ? LDG_DB_BODIES5 : LDG_DB_ENTRIES5;
        if ((rc = ldg_db_count(t, ldg_core(l, from), &n0)) < 0 ||
            (rc = ldg_db_count(t, ldg_core(l, to), &n5)) < 0)
            return rc;
        if (n0 != n5) {
            ldg_seterr(l,
                       "migrate: the copy of %s holds %llu records, the "
                       "original %llu; nothing was changed",
                       i ? "bodies" : "entries", (unsigned long long)n5,
                       (unsigned long long)n0);
            return LDG_ECORRUPT;
        }
    }
    if ((rc = ldg_core_db_drop(t, ldg_core(l, LDG_DB_ENTRIES), 0)) < 0 ||
        (rc = ldg_core_db_drop(t, ldg_core(l, LDG_DB_BODIES), 0)) < 0)
        return rc;
    /* layout 7 or 8 straight away when the entries went with their
     * digests: an older layout would call such a record damaged, and 5 to
     * 6 is a meta step alone */
    ldg_be32(lay, (uint32_t)form_layout(p->form));
    if ((rc = ldg_core_kv_put(t, ldg_core(l, LDG_DB_META), LDG_META_LAYOUT,
                              sizeof LDG_META_LAYOUT - 1, lay, sizeof lay)) < 0)
        return rc;
    ldg_txn_set_layout(t, form_layout(p->form));
    /* ix.body holds the keys of every body copied, less those erased */
    ldg_bix_mark_current(t, size);
    return 0;
}

/* The newest dictionary id due at a log of size events (0: none yet). */
static unsigned
dict_due_id(uint64_t size)
{
    unsigned id = 0;
    uint64_t n = LDG_DICT_FIRST;
    while (size >= n && id + 1 < LDG_DICT_IDS) {
        id++;
        if (n > UINT64_MAX / LDG_DICT_GROWTH)
            break;
        n *= LDG_DICT_GROWTH;
    }
    return id;
}

/* Layout 4 to 5, or to 7 or 8 (to: its entries stored with their claim
 * digests in that layout's form, meta "layout" written by the last
 * transaction): 0 with *at, the layout it reached (5 when another migrate
 * got past 4 first), or -err with the ledger left at layout 4. progress
 * counts events, on from done0. */
int
mig_to_stored(struct ldg_ledger *l, int to,
              void (*progress)(void *ctx, uint64_t done, uint64_t total),
              void *progress_ctx, uint64_t done0, uint64_t total,
              struct ldg_migrate_result *res, int *at)
{
    struct pack p;
    struct ldg_txn *t;
    int rc;

    memset(&p, 0, sizeof p);
    p.form = mig_layout_form(to);
    *at = LDG_LAYOUT_STORED;
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
        return rc;
    rc = ldg_txn_size(t, &p.size0);
    if (rc == 0)
        rc = ldg_dict_refresh(l, t);
    p.hz0 = ldg_txn_horizon(t);
    if (rc == 0 && p.hz0 > 0)
        rc = ldg_entry_prev(t, p.hz0, p.prev);
    ldg_txn_abort(t);
    if (rc < 0)
        return rc;
    /* a dictionary for the bodies, when the log is long enough to have
     * one due (trained on its last bodies, stored before any is made
     * with it) */
    if (ldg_ledger_cdict(l) == NULL && dict_due_id(p.size0) > 0 &&
        (rc = ldg_dict_make(l, dict_due_id(p.size0), p.size0)) < 0 &&
        rc != LDG_ENOTFOUND)
        return rc;
    p.cap = LDG_ENTRY_MAX > l->opts.body_max_bytes + 64
                ? LDG_ENTRY_MAX
                : l->opts.body_max_bytes + 64;
    if ((p.buf = malloc(p.cap)) == NULL)
        return LDG_ENOMEM;
    if ((rc = pool_new(&p.po)) < 0) {
        free(p.buf);
        return rc;
    }
    rc = mig_in_txn(l, pack_clear, &p);
    p.next = p.hz0;
    while (rc == 0 && !p.moved && p.next < p.size0) {
        if ((rc = mig_in_txn(l, pack_step, &p)) < 0)
            break;
        if (p.moved)
            break;
        p.entries += p.entries_step;
        p.bodies += p.bodies_step;
        memcpy(p.prev, p.prev_step, 32);
        LDG_ASSERT(p.next < p.next_step && p.next_step <= p.size0);
        p.next = p.next_step;
        if (progress != NULL)
            progress(progress_ctx,
                     done0 + p.next - p.hz0 < total ? done0 + p.next - p.hz0
                                                    : total,
                     total);
        /* the pages read and written leave this process's memory */
        ldg_store_trim(l->store);
    }
    if (rc == 0 && !p.moved && (rc = mig_in_txn(l, pack_finish, &p)) == 0 &&
        !p.moved) {
        p.entries += p.entries_step;
        p.bodies += p.bodies_step;
        res->body_index_built = 1;
        *at = form_layout(p.form);
    }
    free(p.buf);
    pool_free(p.po);
    res->entries_stored = p.entries;
    res->bodies_packed = p.bodies;
    return rc;
}

/* What the steps ahead convert, for progress's total: *keys, the keys of
 * the four indexes layout 3 moves; *whole, the whole tiles (of 256
 * hashes) layout 4 splits (every tile in layouts 2 and 3). */
void
mig_to_convert(struct ldg_ledger *l, uint64_t *keys, uint64_t *whole)
{
    struct ldg_txn *t;
    int layout;

    *keys = *whole = 0;
    if (ldg_txn_begin(l, LDG_TXN_READ, &t) < 0)
        return;
    layout = ldg_txn_layout(t);
    for (int i = 0; layout < LDG_LAYOUT_DUPS && i < 4; i++) {
        uint64_t n = 0;
        if (ldg_db_count(t, ldg_core(l, mig_ix_from[i]), &n) == 0)
            *keys += n;
    }
    if (layout >= LDG_LAYOUT_SPLIT)
        ldg_mig_tiles_whole(t, whole);
    else if (layout >= LDG_LAYOUT_TILES)
        ldg_db_count(t, ldg_core(l, LDG_DB_TILES), whole);
    ldg_txn_abort(t);
}

/* A step that changes meta "layout" from `from` to `to` in t, and nothing
 * else: 1 when another migrate did it meanwhile (the layout is `to` or
 * newer), 0 when written, or an error (the layout is neither). */
static int
layout_step(struct ldg_txn *t, int from, int to)
{
    uint8_t lay[LDG_META_LAYOUT_LEN];
    int rc;
    if ((rc = ldg_txn_layout(t)) < 0)
        return rc;
    if (rc >= to)
        return 1;
    if (rc != from) {
        ldg_seterr(ldg_txn_ledger(t),
                   "migrate: the store is at layout %d, not %d as it was "
                   "a moment ago; nothing was changed (run it again)",
                   rc, from);
        return LDG_EBUSY;
    }
    LDG_ASSERT(from < to);
    ldg_be32(lay, (uint32_t)to);
    if ((rc = ldg_core_kv_put(t, ldg_core(ldg_txn_ledger(t), LDG_DB_META),
                              LDG_META_LAYOUT, sizeof LDG_META_LAYOUT - 1, lay,
                              sizeof lay)) < 0)
        return rc;
    ldg_txn_set_layout(t, to);
    return 0;
}

/* Layout 5 to 6 (FORMAT.md 6.1): meta "layout" alone, in one
 * transaction. Nothing else changes: layout 6 reads every record of
 * layout 5 as it is (a body seeded by BLAKE2b keeps its seed, a salted one
 * its salts); only the bodies appended from now on are seeded by AES. */
int
mig_step_aes_salts(struct ldg_txn *t, void *arg)
{
    int rc = layout_step(t, LDG_LAYOUT_STORED, LDG_LAYOUT_AES_SALTS);
    (void)arg;
    return rc < 0 ? rc : 0;
}

/* Layout 6 to 7, 6 to 8 or 7 to 8 (FORMAT.md 6.1; arg: two ints, from
 * and to): meta "layout" in one transaction, as 5 to 6, with meta
 * "digest.next" 0: the records the old layout wrote are to be rewritten
 * in the new one's form (to_digest, below). Layouts 7 and 8 read every
 * record of the layouts before as it is (a sealed entry stored without
 * its claim digest is read so, the digest derived), and the entries
 * appended from now on are in the new form. A crash leaves the one
 * transaction made or not: the old layout or the new, both whole. */
int
mig_step_digest(struct ldg_txn *t, void *arg)
{
    const int *ft = arg;
    uint8_t next[8];
    int rc = layout_step(t, ft[0], ft[1]);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    ldg_be64(next, 0);
    return ldg_core_kv_put(t, ldg_core(ldg_txn_ledger(t), LDG_DB_META),
                           LDG_META_DIGEST_NEXT,
                           sizeof LDG_META_DIGEST_NEXT - 1, next, sizeof next);
}
