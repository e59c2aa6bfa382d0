/*
 * index.c — secondary indexes, maintained in the append transaction.
 *
 * Store layouts 1 and 2 (FORMAT.md 6.1) keep each index as an LMDB
 * database whose keys sort events by a field, with empty values:
 *
 *   idx.type     type    ‖ 0x00 ‖ seq be64
 *   idx.subject  subject ‖ 0x00 ‖ seq be64
 *   idx.run      run     ‖ 0x00 ‖ seq be64      (events with a run only)
 *   idx.actor    key_id  ‖ 0x00 ‖ seq be64
 *   idx.time     ts_ns be64 ‖ seq be64
 *   idx.id       id      ‖ 0x00 ‖ seq be64      (events with an id only;
 *                                               format version 2)
 *
 * Strings never contain NUL, so "value ‖ 0x00" is a prefix no other value
 * shares and a range scan from it yields that value's events in order.
 *
 * Layout 3 keeps type, subject, run and actor in ix.* instead: one key per
 * value, the value's events as sorted 8-byte duplicates (be64 seq), which
 * LMDB packs without a node each (MDB_DUPFIXED). It keeps no idx.time: ts
 * grows with seq, so ldg_time_window (reader.c) finds a time by binary
 * search in entries. idx.id is the same in every layout.
 *
 * Callers see one form: the "canonical key" value ‖ 0x00 ‖ seq (what
 * ldg_index_keys hands out and verify sums), under the layout 1 database's
 * enum (LDG_DB_IDX_*); the layout module (ldg_layout_db) maps it to
 * where the layout keeps it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/index_int.h"

int
ldg_index_dups(enum ldg_core_db db)
{
    return (db >= LDG_DB_IX_TYPE && db <= LDG_DB_IX_ACTOR) ||
           db == LDG_DB_IX_BODY;
}

static size_t
str_key(uint8_t *k, const char *s, uint64_t seq)
{
    return ldg_ikey_make(k, s, strlen(s), seq);
}

/* Builds each canonical key of ev that layout keeps and calls fn(arg,
 * physical db, key, n, at_end). */
static int
build_keys(const struct ldg_event *ev, int layout, void *arg,
           int (*fn)(void *, enum ldg_core_db, const uint8_t *, size_t, int))
{
    uint8_t k[LDG_SUBJECT_MAX + 16];
    size_t n;
    int rc;

    n = str_key(k, ev->type, ev->seq);
    if ((rc = fn(arg, ldg_layout_db(layout, LDG_DB_IDX_TYPE), k, n, 0)) < 0)
        return rc;
    n = str_key(k, ev->subject, ev->seq);
    if ((rc = fn(arg, ldg_layout_db(layout, LDG_DB_IDX_SUBJECT), k, n, 0)) < 0)
        return rc;
    if (ev->run[0] != '\0') {
        n = str_key(k, ev->run, ev->seq);
        if ((rc = fn(arg, ldg_layout_db(layout, LDG_DB_IDX_RUN), k, n, 0)) < 0)
            return rc;
    }
    n = str_key(k, ev->actor, ev->seq);
    if ((rc = fn(arg, ldg_layout_db(layout, LDG_DB_IDX_ACTOR), k, n, 0)) < 0)
        return rc;
    if (ev->id_len > 0) {
        n = ldg_ikey_make(k, ev->id, ev->id_len, ev->seq);
        if ((rc = fn(arg, LDG_DB_IDX_ID, k, n, 0)) < 0)
            return rc;
    }
    if (ldg_layout_db(layout, LDG_DB_IDX_TIME) == LDG_CORE_DBS)
        return 0; /* (layouts 1 and 2's idx.time: ts ‖ seq) */
    ldg_be64(k, ev->ts_ns);
    ldg_be64(k + 8, ev->seq);
    return fn(arg, LDG_DB_IDX_TIME, k, 16, 1);
}

/* The keys of ev, without a transaction (ldg_index_keys). */
struct keys_ctx {
    void (*fn)(void *, enum ldg_core_db, const uint8_t *, size_t);
    void *ctx;
};

static int
keys_cb(void *arg, enum ldg_core_db db, const uint8_t *k, size_t n, int at_end)
{
    struct keys_ctx *c = arg;
    (void)at_end;
    c->fn(c->ctx, db, k, n);
    return 0;
}

void
ldg_index_keys(const struct ldg_event *ev, int layout,
               void (*fn)(void *ctx, enum ldg_core_db db, const uint8_t *key,
                          size_t n),
               void *ctx)
{
    struct keys_ctx c = {fn, ctx};
    (void)build_keys(ev, layout, &c, keys_cb);
}

/* Calls fn for each (db, key) of ev. at_end is set for idx.time, whose
 * keys grow with seq (ts is strictly increasing), so an append's key
 * belongs after every other. */
struct each_ctx {
    struct ldg_txn *t;
    int (*fn)(struct ldg_txn *, enum ldg_core_db, const uint8_t *, size_t, int);
};

static int
each_cb(void *arg, enum ldg_core_db db, const uint8_t *k, size_t n, int at_end)
{
    struct each_ctx *c = arg;
    return c->fn(c->t, db, k, n, at_end);
}

static int
each_key(struct ldg_txn *t, const struct ldg_event *ev,
         int (*fn)(struct ldg_txn *, enum ldg_core_db, const uint8_t *, size_t,
                   int))
{
    struct each_ctx c = {t, fn};
    int layout = ldg_txn_layout(t);
    if (layout < 0)
        return layout;
    return build_keys(ev, layout, &c, each_cb);
}

/* The id index names one event per id: the first key at or after
 * "id ‖ 0x00" is that event's if it starts so. */
int
ldg_index_id_lookup(struct ldg_txn *t, const char *id, size_t len,
                    uint64_t *seq)
{
    struct ldg_store *s = ldg_txn_store(t);
    struct ldg_cursor *c = NULL;
    struct ldg_val k, v;
    uint8_t key[LDG_ID_MAX + 1];
    int rc;

    if (len == 0 || len > LDG_ID_MAX)
        return LDG_ENOTFOUND;
    if (!ldg_store_has_core(s, LDG_DB_IDX_ID))
        return LDG_ENOTFOUND; /* an older ledger read-only: no ids */
    memcpy(key, id, len);
    key[len] = 0;
    if ((rc = ldg_cursor_open(t, ldg_store_core_dbi(s, LDG_DB_IDX_ID), &c)) < 0)
        return rc;
    rc = ldg_cursor_get(c, LDG_SET_RANGE, key, len + 1, &k, &v);
    if (rc == 0 && (k.len != len + 9 || memcmp(k.data, key, len + 1) != 0))
        rc = LDG_ENOTFOUND;
    if (rc == 0)
        *seq = ldg_ikey_seq(k.data, k.len);
    ldg_cursor_close(c);
    return rc;
}

/* A key expected at the end goes in with LMDB's append (no search from
 * the root, full pages); if it is not past the last key after all (a log
 * whose ts went back, or the key is there), the ordinary put does exactly
 * what it did before. In ix.*, the canonical key's seq is the duplicate,
 * appended after the value's others (an append's seq is the greatest). */
static int
put_one(struct ldg_txn *t, enum ldg_core_db db, const uint8_t *k, size_t n,
        int at_end)
{
    ldg_dbi dbi = ldg_store_core_dbi(ldg_txn_store(t), db);
    if (ldg_index_dups(db))
        return ldg_core_kv_put_dup(t, dbi, k, n - 1 - LDG_IKEY_SEQ_LEN,
                                   k + n - LDG_IKEY_SEQ_LEN, LDG_IKEY_SEQ_LEN);
    if (at_end) {
        int rc = ldg_kv_put_new(t, dbi, k, n, "", 0);
        if (rc != LDG_EEXIST)
            return rc;
    }
    return ldg_core_kv_put(t, dbi, k, n, "", 0);
}

static int
check_one(struct ldg_txn *t, enum ldg_core_db db, const uint8_t *k, size_t n,
          int at_end)
{
    ldg_dbi dbi = ldg_store_core_dbi(ldg_txn_store(t), db);
    struct ldg_val v;
    (void)at_end;
    if (ldg_index_dups(db))
        return ldg_core_kv_get_both(t, dbi, k, n - 1 - LDG_IKEY_SEQ_LEN,
                                    k + n - LDG_IKEY_SEQ_LEN, LDG_IKEY_SEQ_LEN);
    return ldg_kv_get(t, dbi, k, n, &v);
}

int
ldg_index_put(struct ldg_txn *t, const struct ldg_event *ev)
{
    return each_key(t, ev, put_one);
}

int
ldg_index_check(struct ldg_txn *t, const struct ldg_event *ev)
{
    return each_key(t, ev, check_one);
}

/*
 * Rebuild: the index databases (of every layout) are emptied and
 * refilled from the entries in one write transaction, so a reader sees either
 * the old indexes or the complete new ones, and a crash leaves the old ones.
 * The ix.* databases of sorted duplicates are filled as ix.body is (a
 * batch per database: each value's seqs gathered, then written a value at
 * a time in key order), the others a put an event.
 */
#define RB_NIX (LDG_DB_IX_ACTOR - LDG_DB_IX_TYPE + 1)
static int rb_batches_new(struct ldg_bix_batch *bb[RB_NIX]);
static void rb_batches_free(struct ldg_bix_batch *bb[RB_NIX]);
static int rb_put(struct ldg_txn *t, struct ldg_bix_batch *bb[RB_NIX],
                  const struct ldg_event *ev);
static int rb_flush(struct ldg_txn *t, struct ldg_bix_batch *bb[RB_NIX]);

int
ldg_index_rebuild(struct ldg_ledger *l)
{
    return ldg_index_rebuild_progress(l, NULL, NULL);
}

int
ldg_index_rebuild_progress(struct ldg_ledger *l,
                           void (*progress)(void *ctx, uint64_t done,
                                            uint64_t total),
                           void *progress_ctx)
{
    static const enum ldg_core_db idx[] = {
        LDG_DB_IDX_TYPE, LDG_DB_IDX_SUBJECT, LDG_DB_IDX_RUN, LDG_DB_IDX_ACTOR,
        LDG_DB_IDX_TIME, LDG_DB_IDX_ID,      LDG_DB_IX_TYPE, LDG_DB_IX_SUBJECT,
        LDG_DB_IX_RUN,   LDG_DB_IX_ACTOR};
    struct ldg_txn *t = NULL;
    struct ldg_cursor *c = NULL;
    struct ldg_bix_batch *bb[RB_NIX] = {NULL};
    struct ldg_val k, v;
    uint64_t expect = 0, size = 0;
    int rc;

    if (l == NULL)
        return LDG_EINVAL;
    if ((rc = rb_batches_new(bb)) < 0)
        return rc;
    if ((rc = ldg_txn_begin(l, LDG_TXN_WRITE, &t)) < 0) {
        ldg_seterr(l, "reindex: cannot begin a write transaction: %s",
                   ldg_strerror(rc));
        rb_batches_free(bb);
        return rc;
    }
    /* the indexes of the newest layout only (an older one is migrated) */
    if ((rc = ldg_txn_writable(t)) < 0)
        goto out;
    if (progress != NULL && ldg_txn_size(t, &size) == 0)
        progress(progress_ctx, 0, size);
    expect = ldg_txn_horizon(t); /* a pruned ledger's first event */
    for (size_t i = 0; i < sizeof idx / sizeof idx[0]; i++) {
        if (!ldg_store_has_core(l->store, idx[i]))
            continue;
        if ((rc = ldg_core_db_drop(t, ldg_core(l, idx[i]), 0)) < 0) {
            ldg_seterr(l, "reindex: emptying an index: %s", ldg_strerror(rc));
            goto out;
        }
    }
    if ((rc = ldg_cursor_open(t, ldg_core(l, ldg_db_entries(t)), &c)) < 0) {
        ldg_seterr(l, "reindex: entries: %s", ldg_strerror(rc));
        goto out;
    }
    for (rc = ldg_cursor_get(c, LDG_FIRST, NULL, 0, &k, &v); rc == 0;
         rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v)) {
        struct ldg_event ev;
        rc = ldg_entry_decode_rec(v.data, v.len, NULL, &ev,
                                  LDG_DECODE_NO_DIGEST);
        if (rc == 0 && ev.seq != expect)
            rc = LDG_ECORRUPT;
        if (rc < 0) {
            ldg_seterr(l, "reindex: event %llu: %s (run " LDG_CMD_VERIFY ")",
                       (unsigned long long)expect, ldg_strerror(rc));
            goto out;
        }
        if ((rc = rb_put(t, bb, &ev)) < 0) {
            ldg_seterr(l, "reindex: event %llu: cannot write the index: %s",
                       (unsigned long long)ev.seq, ldg_strerror(rc));
            goto out;
        }
        expect++;
        if (progress != NULL && (expect & 1023) == 0)
            progress(progress_ctx, expect, size);
    }
    if (progress != NULL)
        progress(progress_ctx, expect, size);
    if (rc != LDG_ENOTFOUND) {
        ldg_seterr(l, "reindex: reading entries: %s", ldg_strerror(rc));
        goto out;
    }
    ldg_cursor_close(c);
    c = NULL;
    if ((rc = rb_flush(t, bb)) < 0) {
        ldg_seterr(l, "reindex: cannot write the index: %s", ldg_strerror(rc));
        goto out;
    }
    /* and the body index, from the stored bodies */
    if (ldg_store_has_core(l->store, LDG_DB_IX_BODY) &&
        (rc = ldg_bix_build(t)) < 0) {
        if (ldg_errbuf(l)[0] == '\0')
            ldg_seterr(l, "reindex: the body index: %s", ldg_strerror(rc));
        goto out;
    }
    rc = ldg_txn_commit(t);
    t = NULL;
    if (rc < 0)
        ldg_seterr(l, "reindex: commit: %s", ldg_strerror(rc));
out:
    ldg_cursor_close(c);
    ldg_txn_abort(t);
    rb_batches_free(bb);
    return rc;
}

enum ldg_core_db
ldg_index_db(enum ldg_index which, int layout)
{
    switch (which) {
    case LDG_INDEX_TYPE:
        return ldg_layout_db(layout, LDG_DB_IDX_TYPE);
    case LDG_INDEX_SUBJECT:
        return ldg_layout_db(layout, LDG_DB_IDX_SUBJECT);
    case LDG_INDEX_RUN:
        return ldg_layout_db(layout, LDG_DB_IDX_RUN);
    case LDG_INDEX_ACTOR:
        return ldg_layout_db(layout, LDG_DB_IDX_ACTOR);
    }
    return LDG_CORE_DBS;
}

/* One value's events in [lo, hi], through the seq-ordered scan of
 * reader.c (which knows both layouts' keys). */
int
ldg_index_walk(struct ldg_txn *t, enum ldg_index which, const char *value,
               uint64_t lo, uint64_t hi, int reverse,
               int (*fn)(void *ctx, uint64_t seq), void *ctx)
{
    struct ldg_seqscan *sc = NULL;
    uint64_t seq;
    int rc;

    if (t == NULL || value == NULL || fn == NULL)
        return LDG_EINVAL;
    if ((rc = ldg_seqscan_index(&sc, t, which, value, lo, hi, reverse)) < 0)
        return rc;
    while ((rc = ldg_seqscan_next(sc, &seq)) == 1)
        if ((rc = fn(ctx, seq)) != 0)
            break;
    ldg_seqscan_free(sc);
    return rc > 0 ? 0 : rc;
}

struct seqs_ctx {
    uint64_t **out;
    size_t *n, cap;
};

static int
seqs_add(void *arg, uint64_t seq)
{
    struct seqs_ctx *x = arg;
    if (*x->n == x->cap) {
        uint64_t *a;
        size_t cap = x->cap ? x->cap * 2 : 16;
        if ((a = realloc(*x->out, cap * sizeof *a)) == NULL)
            return LDG_ENOMEM;
        *x->out = a;
        x->cap = cap;
    }
    (*x->out)[(*x->n)++] = seq;
    return 0;
}

int
ldg_type_seqs(struct ldg_txn *t, const char *type, uint64_t lo, uint64_t hi,
              uint64_t **out, size_t *n)
{
    struct seqs_ctx x = {out, n, *n};
    return ldg_index_walk(t, LDG_INDEX_TYPE, type, lo, hi, 0, seqs_add, &x);
}

/*
 * ix.body (FORMAT.md 6.1): the events whose body holds an indexed field
 * (LDG_BIX_NAMES) with a given string value, as sorted duplicates (be64
 * seq) under the key name ‖ 0x00 ‖ value. Derived from the stored bodies
 * and never read to verify anything; meta "ix.body" (be64 N) says it holds
 * the keys of every stored body below N, and query uses it only while N
 * is the log's size (anything that appends without keeping it, such as a
 * build that predates it, leaves N behind, and the scan answers).
 */
static const char *const bix_names[LDG_BIX_NNAMES] = LDG_BIX_NAMES;

int
ldg_bix_name(const char *name)
{
    for (size_t i = 0; i < LDG_BIX_NNAMES; i++)
        if (strcmp(bix_names[i], name) == 0)
            return 1;
    return 0;
}

/* Calls fn(ctx, key, n) for the ix.body keys of the indexed field name's
 * value v: a string, or each string of an array, of at most
 * LDG_BIX_VALUE_MAX bytes without NUL (a value the index keeps no key for
 * is one no indexed query asks for: ldg_bix_usable). An array's repeated
 * string gives its key twice (a duplicate put is a no-op). */
static int
bix_value(const char *name, const json_t *v,
          int (*fn)(void *ctx, const uint8_t *k, size_t n), void *ctx)
{
    uint8_t k[16 + 1 + LDG_BIX_VALUE_MAX];
    size_t nl = strlen(name), x;
    json_t *e;
    int rc;

    memcpy(k, name, nl);
    k[nl] = 0;
    if (json_is_string(v)) {
        size_t n = json_string_length(v);
        if (n > LDG_BIX_VALUE_MAX || memchr(json_string_value(v), 0, n))
            return 0;
        memcpy(k + nl + 1, json_string_value(v), n);
        return fn(ctx, k, nl + 1 + n);
    }
    json_array_foreach(v, x, e)
    {
        size_t n = json_string_length(e);
        if (!json_is_string(e) || n > LDG_BIX_VALUE_MAX ||
            memchr(json_string_value(e), 0, n) != NULL)
            continue;
        memcpy(k + nl + 1, json_string_value(e), n);
        if ((rc = fn(ctx, k, nl + 1 + n)) != 0)
            return rc;
    }
    return 0;
}

/* Calls fn(ctx, key, n) for each ix.body key of the body b shows (its
 * indexed fields' values, as bix_value). */
static int
bix_each(const struct ldg_body_view *b,
         int (*fn)(void *ctx, const uint8_t *k, size_t n), void *ctx)
{
    uint8_t k[16 + 1 + LDG_BIX_VALUE_MAX];
    int rc = 0;

    for (size_t i = 0; i < LDG_BIX_NNAMES && rc == 0; i++) {
        size_t nl = strlen(bix_names[i]);
        struct ldg_slice sl;
        json_t *j;
        int kind = ldg_body_view_str_or_array(b, bix_names[i], &sl, &j);

        if (kind == 1) {
            if (sl.n <= LDG_BIX_VALUE_MAX && memchr(sl.p, 0, sl.n) == NULL) {
                memcpy(k, bix_names[i], nl);
                k[nl] = 0;
                memcpy(k + nl + 1, sl.p, sl.n);
                rc = fn(ctx, k, nl + 1 + sl.n);
            }
        } else if (kind == 2) {
            rc = bix_value(bix_names[i], j, fn, ctx);
            json_decref(j);
        }
    }
    return rc;
}

/* bix_each for a body as JSON (the append path's): its fields walked once
 * instead of each indexed name looked up. */
static int
bix_each_json(const json_t *body,
              int (*fn)(void *ctx, const uint8_t *k, size_t n), void *ctx)
{
    const char *name;
    json_t *v;
    int rc;

    json_object_foreach((json_t *)(uintptr_t)body, name, v)
    {
        if (ldg_bix_name(name) && (rc = bix_value(name, v, fn, ctx)) != 0)
            return rc;
    }
    return 0;
}

/* A view of a stored body record (in b, with dictionaries d), or of its
 * decoded JSON in *json when it cannot be read in place. */
static int
bix_view(const struct ldg_dicts *d, size_t max, struct ldg_body_view *b,
         const uint8_t *rec, size_t len, json_t **json)
{
    int rc;

    *json = NULL;
    ldg_body_view_set_dicts(b, d, max);
    if ((rc = ldg_body_view_set_record(b, rec, len)) <= 0)
        return rc;
    if ((rc = ldg_body_decode_json(d, rec, len, max, json)) < 0)
        return rc;
    ldg_body_view_set_json(b, *json);
    return 0;
}

struct bix_put {
    struct ldg_txn *t;
    uint8_t seq[8];
    int del;
};

static int
bix_put_one(void *ctx, const uint8_t *k, size_t n)
{
    struct bix_put *c = ctx;
    ldg_dbi dbi = ldg_store_core_dbi(ldg_txn_store(c->t), LDG_DB_IX_BODY);
    int rc;
    if (!c->del)
        return ldg_core_kv_put_dup(c->t, dbi, k, n, c->seq, 8);
    rc = ldg_core_kv_del(c->t, dbi, k, n, c->seq, 8);
    return rc == LDG_ENOTFOUND ? 0 : rc;
}

/* fn(ctx, key, n) for each key of one stored body record. */
static int
bix_record_fn(struct ldg_txn *t, struct ldg_body_view *b, const uint8_t *rec,
              size_t len, int (*fn)(void *ctx, const uint8_t *k, size_t n),
              void *ctx)
{
    json_t *json = NULL;
    int rc;

    if ((rc = bix_view(ldg_txn_dicts(t), ldg_body_max(ldg_txn_ledger(t)), b,
                       rec, len, &json)) == 0)
        rc = bix_each(b, fn, ctx);
    json_decref(json);
    return rc;
}

/* The keys of one stored body record put (del 0) or deleted (del 1). */
static int
bix_record(struct ldg_txn *t, struct ldg_body_view *b, uint64_t seq,
           const uint8_t *rec, size_t len, int del)
{
    struct bix_put c = {t, {0}, del};
    ldg_be64(c.seq, seq);
    return bix_record_fn(t, b, rec, len, bix_put_one, &c);
}

/* ldg_bix_build gathers each key's seqs (ascending: the bodies are read
 * in seq order) and writes them a key at a time (ldg_core_kv_put_dups:
 * one request, no search from the root a pair), flushing when it holds
 * ldg_bix_batch_pairs pairs or ldg_bix_batch_keys keys, so memory stays bounded
 * whatever the values. */
size_t ldg_bix_batch_pairs = (size_t)1 << 20;
size_t ldg_bix_batch_keys = (size_t)1 << 14; /* a power of 2 */
struct bix_key {
    size_t off, n;    /* the key: n bytes at kbuf + off */
    const uint8_t *k; /* set for the sort (kbuf moves as it grows) */
    uint8_t *seqs;    /* be64 each */
    size_t ns, cap;
};
struct ldg_bix_batch {
    struct ldg_body_view *b; /* a view of the record add reads */
    struct ldg_txn *t;
    enum ldg_core_db db; /* ix.body, or an entries' ix.* (rebuild) */
    uint64_t seq;
    struct bix_key *keys;
    size_t nkeys, cap;
    uint8_t *kbuf; /* the keys' bytes, one after another */
    size_t klen, kcap;
    size_t *slot; /* hash table of key indexes + 1 (0: empty) */
    size_t nslot;
    size_t pairs;
};

/* FNV-1a over 8 bytes at a time (and the rest a byte at a time): a
 * slot, never stored, so any spread will do. */
static size_t
bix_hash(const uint8_t *k, size_t n)
{
    uint64_t h = 14695981039346656037ull, w;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, k + i, 8);
        h = (h ^ w) * 1099511628211ull;
        h ^= h >> 29;
    }
    for (; i < n; i++)
        h = (h ^ k[i]) * 1099511628211ull;
    h ^= h >> 32;
    return (size_t)h;
}

static int
bix_key_cmp(const void *a, const void *b)
{
    const struct bix_key *x = a, *y = b;
    int c = memcmp(x->k, y->k, x->n < y->n ? x->n : y->n);
    return c ? c : (x->n > y->n) - (x->n < y->n);
}

static int
bix_flush(struct ldg_bix_batch *bb)
{
    ldg_dbi dbi = ldg_store_core_dbi(ldg_txn_store(bb->t), bb->db);
    int rc = 0;
    for (size_t i = 0; i < bb->nkeys; i++)
        bb->keys[i].k = bb->kbuf + bb->keys[i].off;
    /* in key order: a key past every other goes in without a search */
    qsort(bb->keys, bb->nkeys, sizeof *bb->keys, bix_key_cmp);
    for (size_t i = 0; i < bb->nkeys; i++) {
        if (rc == 0)
            rc = ldg_core_kv_put_dups(bb->t, dbi, bb->keys[i].k, bb->keys[i].n,
                                      bb->keys[i].seqs, 8, bb->keys[i].ns);
        free(bb->keys[i].seqs);
    }
    bb->nkeys = 0;
    bb->klen = 0;
    bb->pairs = 0;
    memset(bb->slot, 0, bb->nslot * sizeof *bb->slot);
    return rc;
}

static int
bix_gather(void *ctx, const uint8_t *k, size_t n)
{
    struct ldg_bix_batch *bb = ctx;
    struct bix_key *e;
    size_t h = bix_hash(k, n) & (bb->nslot - 1);

    for (; bb->slot[h] != 0; h = (h + 1) & (bb->nslot - 1)) {
        e = &bb->keys[bb->slot[h] - 1];
        if (e->n == n && memcmp(bb->kbuf + e->off, k, n) == 0)
            break;
    }
    if (bb->slot[h] == 0) {
        if (bb->nkeys == bb->cap) { /* a body of many array strings */
            int rc = bix_flush(bb);
            if (rc < 0)
                return rc;
            h = bix_hash(k, n) & (bb->nslot - 1);
        }
        if (bb->klen + n > bb->kcap) {
            size_t nc = bb->kcap ? bb->kcap * 2 : 65536;
            uint8_t *p;
            while (nc < bb->klen + n)
                nc *= 2;
            if ((p = realloc(bb->kbuf, nc)) == NULL)
                return LDG_ENOMEM;
            bb->kbuf = p;
            bb->kcap = nc;
        }
        e = &bb->keys[bb->nkeys];
        memset(e, 0, sizeof *e);
        memcpy(bb->kbuf + bb->klen, k, n);
        e->off = bb->klen;
        e->n = n;
        bb->klen += n;
        bb->slot[h] = ++bb->nkeys;
    }
    e = &bb->keys[bb->slot[h] - 1];
    if (e->ns > 0 && ldg_rd_be64(e->seqs + 8 * (e->ns - 1)) == bb->seq)
        return 0; /* an array's string again */
    if (e->ns == e->cap) {
        size_t nc = e->cap ? e->cap * 2 : 16;
        uint8_t *p = realloc(e->seqs, nc * 8);
        if (p == NULL)
            return LDG_ENOMEM;
        e->seqs = p;
        e->cap = nc;
    }
    ldg_be64(e->seqs + 8 * e->ns++, bb->seq);
    bb->pairs++;
    return 0;
}

/* meta "ix.body": 0 with *n, LDG_ENOTFOUND (no index), or an error. */
static int
bix_meta(struct ldg_txn *t, uint64_t *n)
{
    struct ldg_val v;
    int rc = ldg_kv_get(t, ldg_core(ldg_txn_ledger(t), LDG_DB_META),
                        LDG_META_IX_BODY, sizeof LDG_META_IX_BODY - 1, &v);
    if (rc < 0)
        return rc;
    if (v.len != 8)
        return LDG_ECORRUPT;
    *n = ldg_rd_be64(v.data);
    return 0;
}

int
ldg_bix_append(struct ldg_txn *t, uint64_t seq, const uint8_t *rec, size_t len,
               const json_t *body)
{
    struct ldg_bix *x = ldg_txn_bix(t);
    struct bix_put c = {t, {0}, 0};
    int rc = 0;

    /* the caller hands the body, decoded or as stored: never neither */
    if (LDG_NEVER(body == NULL && rec == NULL))
        return LDG_EINVAL;
    if (x->state == 0) { /* the transaction's first append: is it kept? */
        uint64_t n;
        if (!ldg_store_has_core(ldg_txn_store(t), LDG_DB_IX_BODY))
            rc = LDG_ENOTFOUND;
        else
            rc = bix_meta(t, &n);
        if (rc < 0 && rc != LDG_ENOTFOUND)
            return rc;
        x->state = rc == 0 && n == seq ? 1 : -1;
        x->next = seq;
    }
    if (x->state < 0)
        return 0;
    if (seq != x->next) { /* not kept on past a gap */
        x->state = -1;
        return 0;
    }
    if (body != NULL) {
        ldg_be64(c.seq, seq);
        rc = bix_each_json(body, bix_put_one, &c);
    } else {
        /* one view for the transaction: it is 8 KB (a slot for each of
         * LDG_FIELDS_MAX fields), and a calloc and free of it an event was
         * 1% of an ingest's CPU */
        if (x->view == NULL && (rc = ldg_body_view_new(&x->view)) < 0)
            return rc;
        rc = bix_record(t, x->view, seq, rec, len, 0);
    }
    if (rc < 0)
        return rc;
    x->next = seq + 1;
    x->dirty = 1;
    return 0;
}

int
ldg_bix_erase(struct ldg_txn *t, uint64_t seq)
{
    struct ldg_val v;
    uint8_t k[8];
    int rc;

    if (!ldg_store_has_core(ldg_txn_store(t), LDG_DB_IX_BODY))
        return 0;
    ldg_be64(k, seq);
    rc = ldg_kv_get(t, ldg_core(ldg_txn_ledger(t), ldg_db_bodies(t)), k, 8, &v);
    if (rc == LDG_ENOTFOUND)
        return 0; /* erased before, or pruned */
    if (rc < 0)
        return rc;
    return ldg_bix_unindex(t, seq, v.data, v.len);
}

int
ldg_bix_batch_new(struct ldg_bix_batch **out)
{
    struct ldg_bix_batch *bb = calloc(1, sizeof *bb);
    int rc = LDG_ENOMEM;

    *out = NULL;
    if (bb == NULL)
        return rc;
    bb->db = LDG_DB_IX_BODY;
    bb->cap = ldg_bix_batch_keys;
    bb->nslot = 2 * ldg_bix_batch_keys;
    if ((bb->keys = malloc(bb->cap * sizeof *bb->keys)) == NULL ||
        (bb->slot = calloc(bb->nslot, sizeof *bb->slot)) == NULL ||
        (rc = ldg_body_view_new(&bb->b)) < 0) {
        ldg_bix_batch_free(bb);
        return rc < 0 ? rc : LDG_ENOMEM;
    }
    *out = bb;
    return 0;
}

void
ldg_bix_batch_free(struct ldg_bix_batch *bb)
{
    if (bb == NULL)
        return;
    for (size_t i = 0; i < bb->nkeys; i++)
        free(bb->keys[i].seqs);
    ldg_body_view_free(bb->b);
    free(bb->keys);
    free(bb->kbuf);
    free(bb->slot);
    free(bb);
}

int
ldg_bix_batch_add(struct ldg_bix_batch *bb, struct ldg_txn *t, uint64_t seq,
                  const struct ldg_body_view *b, const uint8_t *rec, size_t len)
{
    int rc;

    bb->t = t;
    if ((bb->pairs >= ldg_bix_batch_pairs || bb->nkeys + 8 > bb->cap) &&
        (rc = bix_flush(bb)) < 0)
        return rc;
    bb->seq = seq;
    if (b != NULL)
        return bix_each(b, bix_gather, bb);
    return bix_record_fn(t, bb->b, rec, len, bix_gather, bb);
}

int
ldg_bix_batch_add_keys(struct ldg_bix_batch *bb, struct ldg_txn *t,
                       uint64_t seq, const uint8_t *keys, size_t len)
{
    int rc = 0;

    bb->t = t;
    if ((bb->pairs >= ldg_bix_batch_pairs || bb->nkeys + 8 > bb->cap) &&
        (rc = bix_flush(bb)) < 0)
        return rc;
    bb->seq = seq;
    for (size_t p = 0; p < len && rc == 0; p += 1 + keys[p])
        rc = bix_gather(bb, keys + p + 1, keys[p]);
    return rc;
}

int
ldg_bix_batch_flush(struct ldg_bix_batch *bb, struct ldg_txn *t)
{
    bb->t = t;
    return bix_flush(bb);
}

/* The rebuild's batches (ldg_index_rebuild_progress): one per ix.*
 * database of the entries, indexed by db - LDG_DB_IX_TYPE. */
static int
rb_batches_new(struct ldg_bix_batch *bb[RB_NIX])
{
    for (size_t i = 0; i < RB_NIX; i++) {
        int rc = ldg_bix_batch_new(&bb[i]);
        if (rc < 0) {
            rb_batches_free(bb);
            return rc;
        }
        bb[i]->db = (enum ldg_core_db)(LDG_DB_IX_TYPE + i);
    }
    return 0;
}

static void
rb_batches_free(struct ldg_bix_batch *bb[RB_NIX])
{
    for (size_t i = 0; i < RB_NIX; i++) {
        ldg_bix_batch_free(bb[i]);
        bb[i] = NULL;
    }
}

struct rb_ctx {
    struct ldg_txn *t;
    struct ldg_bix_batch **bb;
};

/* A canonical key value ‖ 0x00 ‖ seq of ev: into its database's batch
 * (value, seq) when that keeps sorted duplicates, else put now. */
static int
rb_key(void *arg, enum ldg_core_db db, const uint8_t *k, size_t n, int at_end)
{
    struct rb_ctx *c = arg;
    struct ldg_bix_batch *bb;
    int rc;

    if (db < LDG_DB_IX_TYPE || db > LDG_DB_IX_ACTOR)
        return put_one(c->t, db, k, n, at_end);
    bb = c->bb[db - LDG_DB_IX_TYPE];
    bb->t = c->t;
    if ((bb->pairs >= ldg_bix_batch_pairs || bb->nkeys + 8 > bb->cap) &&
        (rc = bix_flush(bb)) < 0)
        return rc;
    bb->seq = ldg_rd_be64(k + n - LDG_IKEY_SEQ_LEN);
    return bix_gather(bb, k, n - 1 - LDG_IKEY_SEQ_LEN);
}

static int
rb_put(struct ldg_txn *t, struct ldg_bix_batch *bb[RB_NIX],
       const struct ldg_event *ev)
{
    struct rb_ctx c = {t, bb};
    int layout = ldg_txn_layout(t);
    if (layout < 0)
        return layout;
    return build_keys(ev, layout, &c, rb_key);
}

static int
rb_flush(struct ldg_txn *t, struct ldg_bix_batch *bb[RB_NIX])
{
    int rc = 0;
    for (size_t i = 0; i < RB_NIX && rc == 0; i++)
        rc = ldg_bix_batch_flush(bb[i], t);
    return rc;
}

void
ldg_bix_mark_current(struct ldg_txn *t, uint64_t size)
{
    struct ldg_bix *x = ldg_txn_bix(t);
    x->state = 1;
    x->next = size;
    x->dirty = 1;
}

int
ldg_bix_unindex(struct ldg_txn *t, uint64_t seq, const uint8_t *rec, size_t len)
{
    struct ldg_body_view *b = NULL;
    int rc;

    if (!ldg_store_has_core(ldg_txn_store(t), LDG_DB_IX_BODY))
        return 0;
    if ((rc = ldg_body_view_new(&b)) < 0)
        return rc;
    rc = bix_record(t, b, seq, rec, len, 1);
    ldg_body_view_free(b);
    return rc;
}

int
ldg_bix_build(struct ldg_txn *t)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_bix_batch *bb = NULL;
    struct ldg_cursor *c = NULL;
    struct ldg_val k, v;
    uint64_t size, seq, done = 0;
    int rc;

    if ((rc = ldg_txn_size(t, &size)) < 0)
        return rc;
    if ((rc = ldg_core_db_drop(t, ldg_core(l, LDG_DB_IX_BODY), 0)) < 0)
        return rc;
    if ((rc = ldg_bix_batch_new(&bb)) < 0)
        return rc;
    if ((rc = ldg_cursor_open(t, ldg_core(l, ldg_db_bodies(t)), &c)) < 0)
        goto out;
    for (rc = ldg_cursor_get(c, LDG_FIRST, NULL, 0, &k, &v); rc == 0;
         rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v)) {
        if (k.len != 8 || (seq = ldg_rd_be64(k.data)) >= size) {
            rc = LDG_ECORRUPT;
            break;
        }
        rc = ldg_bix_batch_add(bb, t, seq, NULL, v.data, v.len);
        if (rc < 0) {
            ldg_seterr(l, "event %llu: cannot index its body: %s",
                       (unsigned long long)seq, ldg_strerror(rc));
            break;
        }
        if ((++done & 16383) == 0)
            ldg_store_trim(ldg_txn_store(t));
    }
    if (rc == LDG_ENOTFOUND)
        rc = ldg_bix_batch_flush(bb, t);
    if (rc == 0)
        ldg_bix_mark_current(t, size);
out:
    ldg_cursor_close(c);
    ldg_bix_batch_free(bb);
    return rc;
}

int
ldg_bix_usable(struct ldg_txn *t, const char *name, const char *value)
{
    if (t == NULL || name == NULL || value == NULL)
        return LDG_EINVAL;
    if (!ldg_bix_name(name) || strlen(value) > LDG_BIX_VALUE_MAX)
        return 0;
    return ldg_bix_current(t);
}

int
ldg_bix_current(struct ldg_txn *t)
{
    uint64_t n, size;
    int rc;

    if (!ldg_store_has_core(ldg_txn_store(t), LDG_DB_IX_BODY))
        return 0;
    if ((rc = bix_meta(t, &n)) == LDG_ENOTFOUND)
        return 0;
    if (rc < 0 || (rc = ldg_txn_size(t, &size)) < 0)
        return rc;
    return n == size;
}

/*
 * verify --full's check of ix.body (FORMAT.md 6.1), when meta says it is
 * current: every key of every stored body is looked up (key, seq) in it,
 * in seq order, and the index must hold no more pairs than those; equal
 * then means the same set (a pair is stored once). When it holds more,
 * a walk of it names the first pair (in key order) that no stored body
 * gives.
 */
struct bix_chk {
    struct ldg_txn *t;
    ldg_dbi dbi;
    uint8_t seq[8];
    const uint8_t *want; /* bix_has: the key looked for */
    size_t wantn;
};

struct keys_at {
    struct ldg_bix_keys *k;
    size_t start; /* where this body's keys begin in k */
};

static int
bix_keys_gather(void *ctx, const uint8_t *k, size_t n)
{
    struct keys_at *a = ctx;
    struct ldg_bix_keys *c = a->k;
    /* an array's repeated string: one pair */
    for (size_t p = a->start; p < c->len; p += 1 + c->buf[p])
        if (c->buf[p] == n && memcmp(c->buf + p + 1, k, n) == 0)
            return 0;
    if (c->len + 1 + n > c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 1024;
        uint8_t *p;
        while (cap < c->len + 1 + n)
            cap *= 2;
        if ((p = realloc(c->buf, cap)) == NULL)
            return LDG_ENOMEM;
        c->buf = p;
        c->cap = cap;
    }
    c->buf[c->len] = (uint8_t)n;
    memcpy(c->buf + c->len + 1, k, n);
    c->len += 1 + n;
    return 0;
}

int
ldg_bix_keys(const struct ldg_dicts *d, size_t max, struct ldg_body_view *b,
             const uint8_t *rec, size_t len, struct ldg_bix_keys *out)
{
    json_t *json = NULL;
    int rc;

    struct keys_at a = {out, 0};

    out->len = 0;
    if ((rc = bix_view(d, max, b, rec, len, &json)) == 0)
        rc = bix_each(b, bix_keys_gather, &a);
    json_decref(json);
    return rc;
}

int
ldg_bix_view_keys(const struct ldg_body_view *b, struct ldg_bix_keys *out)
{
    struct keys_at a = {out, out->len};
    return bix_each(b, bix_keys_gather, &a);
}

static int
bix_has(void *ctx, const uint8_t *k, size_t n)
{
    struct bix_chk *c = ctx;
    return n == c->wantn && memcmp(k, c->want, n) == 0 ? 1 : 0;
}

/* "name=value" of key k, unprintable bytes as '?'. */
static void
bix_key_str(char *out, size_t outn, const uint8_t *k, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < outn; i++)
        out[o++] = k[i] == 0 ? '=' : k[i] < 0x20 || k[i] >= 0x7f ? '?' : k[i];
    out[o] = '\0';
}

int
ldg_bix_check(struct ldg_txn *t, uint64_t start, uint64_t *bad_seq, char *why,
              size_t whyn)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_body_view *b = NULL;
    struct ldg_cursor *c = NULL;
    struct ldg_val k, v;
    struct bix_chk ck;
    struct ldg_bix_keys keys = {NULL, 0, 0};
    uint64_t size, pairs = 0, held = 0, seq = 0;
    char ks[2 * LDG_BIX_VALUE_MAX];
    int rc, found = 0;

    memset(&ck, 0, sizeof ck);
    ck.t = t;
    ck.dbi = ldg_core(l, LDG_DB_IX_BODY);
    if ((rc = ldg_txn_size(t, &size)) < 0 || (rc = ldg_body_view_new(&b)) < 0)
        return rc;
    if ((rc = ldg_cursor_open(t, ldg_core(l, ldg_db_bodies(t)), &c)) < 0)
        goto out;
    for (rc = ldg_cursor_get(c, LDG_FIRST, NULL, 0, &k, &v); rc == 0 && !found;
         rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v)) {
        if (k.len != 8 || (seq = ldg_rd_be64(k.data)) >= size) {
            rc = LDG_ECORRUPT;
            break;
        }
        if (seq < start)
            continue;
        if ((rc = ldg_bix_keys(ldg_txn_dicts(t), ldg_body_max(l), b, v.data,
                               v.len, &keys)) < 0)
            break;
        ldg_be64(ck.seq, seq);
        for (size_t o = 0; o < keys.len; o += 1 + keys.buf[o]) {
            const uint8_t *key = keys.buf + o + 1;
            size_t n = keys.buf[o];
            pairs++;
            rc = ldg_core_kv_get_both(t, ck.dbi, key, n, ck.seq, 8);
            if (rc == LDG_ENOTFOUND) {
                bix_key_str(ks, sizeof ks, key, n);
                snprintf(why, whyn,
                         "index ix.body lacks the key %s of this event's "
                         "body (the log itself verified; `" LDG_CMD_REBUILD "` "
                         "makes the index again from the bodies)",
                         ks);
                *bad_seq = seq;
                found = 1;
                rc = 0;
                break;
            }
            if (rc < 0)
                break;
        }
        if (rc < 0)
            break;
    }
    if (rc == LDG_ENOTFOUND)
        rc = 0;
    ldg_cursor_close(c);
    c = NULL;
    if (rc < 0 || found)
        goto out;
    if ((rc = ldg_db_count(t, ck.dbi, &held)) < 0 || held == pairs)
        goto out;
    /* more pairs than the bodies give: the first that none gives */
    if ((rc = ldg_cursor_open(t, ck.dbi, &c)) < 0)
        goto out;
    for (rc = ldg_cursor_get(c, LDG_FIRST, NULL, 0, &k, &v); rc == 0;
         rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v)) {
        struct ldg_val bv;
        uint8_t s8[8];
        const char *what = NULL;
        bix_key_str(ks, sizeof ks, k.data, k.len);
        if (v.len != 8) {
            what = "a seq of the wrong size";
            seq = size ? size - 1 : 0;
        } else if ((seq = ldg_rd_be64(v.data)) >= size || seq < start) {
            what = seq >= size ? "an event past the end of the log"
                               : "a pruned event (before the horizon)";
            seq = seq >= size ? (size ? size - 1 : 0) : start;
        } else {
            ldg_be64(s8, seq);
            rc = ldg_kv_get(t, ldg_core(l, ldg_db_bodies(t)), s8, 8, &bv);
            if (rc == LDG_ENOTFOUND) {
                what = "an event with no stored body";
            } else if (rc < 0) {
                break;
            } else {
                ck.want = k.data;
                ck.wantn = k.len;
                rc = bix_record_fn(t, b, bv.data, bv.len, bix_has, &ck);
                if (rc < 0)
                    break;
                if (rc == 0)
                    what = "this event, whose body does not hold it";
            }
        }
        if (what != NULL) {
            snprintf(why, whyn,
                     "index ix.body holds the key %s for %s (the log itself "
                     "verified; `" LDG_CMD_REBUILD
                     "` makes the index again from "
                     "the bodies)",
                     ks, what);
            *bad_seq = seq;
            found = 1;
            break;
        }
    }
    if (rc == LDG_ENOTFOUND || rc == 1)
        rc = 0;
    if (!found && rc == 0) {
        snprintf(why, whyn,
                 "index ix.body holds %llu pairs, the stored bodies give "
                 "%llu (the log itself verified; `" LDG_CMD_REBUILD
                 "` makes the "
                 "index again from the bodies)",
                 (unsigned long long)held, (unsigned long long)pairs);
        *bad_seq = size ? size - 1 : 0;
        found = 1;
    }
out:
    ldg_cursor_close(c);
    ldg_body_view_free(b);
    free(keys.buf);
    return rc < 0 ? rc : found;
}

/*
 * verify --full from the start checks ix.body without a lookup per pair:
 * its workers add a keyed hash of each pair the bodies give (key ‖ be64
 * seq, ldg_bix_sum_add) into a sum mod 2^128, and ldg_bix_sum walks the
 * index adding the same hash of each pair it holds. The pairs on each
 * side are distinct, so equal counts and sums mean the same set, except
 * with a probability near 2^-128 that nobody can raise without the key;
 * anything else sends verify to ldg_bix_check, which names the fault.
 */
void
ldg_bix_sum_add(const uint8_t hkey[16], const uint8_t *k, size_t n,
                const uint8_t seq[8], uint64_t sum[2])
{
    uint8_t m[16 + 1 + LDG_BIX_VALUE_MAX + 8], h[16];
    uint64_t lo, hi; /* any fixed reading of the 16 bytes will do */
    if (n > sizeof m - 8)
        n = sizeof m - 8; /* not a key ix.body holds: the sums differ */
    memcpy(m, k, n);
    memcpy(m + n, seq, 8);
    ldg_shorthash128(h, hkey, m, n + 8);
    memcpy(&lo, h, 8);
    memcpy(&hi, h + 8, 8);
    sum[0] += lo;
    sum[1] += hi + (sum[0] < lo);
}

int
ldg_bix_sum(struct ldg_txn *t, const uint8_t hkey[16], uint64_t sum[2],
            uint64_t *n)
{
    struct ldg_cursor *c = NULL;
    struct ldg_val k, v;
    int rc;

    sum[0] = sum[1] = 0;
    *n = 0;
    if ((rc = ldg_cursor_open(t, ldg_core(ldg_txn_ledger(t), LDG_DB_IX_BODY),
                              &c)) < 0)
        return rc;
    for (rc = ldg_cursor_get(c, LDG_FIRST, NULL, 0, &k, &v); rc == 0;
         rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v)) {
        if (v.len != 8 || k.len > 16 + 1 + LDG_BIX_VALUE_MAX) {
            rc = 1; /* ldg_bix_check names it */
            break;
        }
        ldg_bix_sum_add(hkey, k.data, k.len, v.data, sum);
        ++*n;
    }
    ldg_cursor_close(c);
    return rc == LDG_ENOTFOUND ? 0 : rc;
}
