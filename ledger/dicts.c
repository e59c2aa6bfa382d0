/*
 * dicts.c — when store layout 5 trains a compression dictionary, and which
 * one new body records are made with (FORMAT.md 4, db dicts).
 *
 * Dictionary k is trained when the log first holds LDG_DICT_FIRST ·
 * LDG_DICT_GROWTH^(k-1) events (4,096, 65,536, 1,048,576, ...): each on
 * the bodies of the last LDG_DICT_TRAIN_EVENTS events, so that a box whose
 * traffic changes gets a dictionary of what it does now, a few times in
 * the log's life and never more than once per sixteen-fold growth. A
 * writer checks after each commit (one compare while nothing is due),
 * trains outside the commit that triggered it, and stores the dictionary
 * in a transaction of its own, so that no record can name a dictionary
 * that is not committed. Dictionaries are never changed or removed: a
 * record names the one it was made with, for as long as it is stored.
 * Several writers (serve, ingest, the proxy) may find the same one due:
 * the first to commit it wins, the others take it.
 */
#include <stdlib.h>
#include <string.h>

#include "ledger/log_int.h"

/* Log size at which dictionary id is due (0 when beyond the reach of a
 * 64-bit size). */
static uint64_t
due_at(unsigned id)
{
    uint64_t n = LDG_DICT_FIRST;
    for (unsigned i = 1; i < id; i++) {
        if (n > UINT64_MAX / LDG_DICT_GROWTH)
            return 0;
        n *= LDG_DICT_GROWTH;
    }
    return n;
}

const struct ldg_cdict *
ldg_ledger_cdict(struct ldg_ledger *l)
{
    return __atomic_load_n(&l->cdict, __ATOMIC_ACQUIRE);
}

/* New records use dictionary id (held by l->dicts) from now on. */
static int
install(struct ldg_ledger *l, unsigned id)
{
    const uint8_t *p;
    size_t len;
    struct ldg_cdict *c, *old;
    int rc;

    if ((rc = ldg_dicts_get(l->dicts, id, &p, &len)) < 0)
        return rc;
    if ((rc = ldg_cdict_new(&c, id, p, len)) < 0)
        return rc;
    pthread_mutex_lock(&l->dict_mu);
    old = l->cdict;
    if (old != NULL && ldg_cdict_id(old) >= id) {
        pthread_mutex_unlock(&l->dict_mu);
        ldg_cdict_free(c);
        return 0;
    }
    if (old != NULL && l->ncdict_old < LDG_DICT_IDS)
        l->cdict_old[l->ncdict_old++] = old; /* a prep may still use it */
    __atomic_store_n(&l->cdict, c, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&l->dict_mu);
    return 0;
}

int
ldg_dict_refresh(struct ldg_ledger *l, struct ldg_txn *t)
{
    const struct ldg_cdict *cur;
    unsigned top;

    if (ldg_txn_dicts(t) == NULL)
        return LDG_ECORRUPT;
    top = ldg_dicts_top(l->dicts);
    cur = ldg_ledger_cdict(l);
    if (top > 0 && (cur == NULL || ldg_cdict_id(cur) < top))
        return install(l, top);
    return 0;
}

/* The envelopes and bodies of events [from, to) into tr. */
static int
window(struct ldg_txn *t, uint64_t from, uint64_t to, struct ldg_train *tr)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    const struct ldg_dicts *d = ldg_txn_dicts(t);
    struct ldg_cursor *ce = NULL, *cb = NULL;
    struct ldg_val k, v;
    uint8_t key[8];
    int rc;

    if (d == NULL)
        return LDG_ECORRUPT;
    if ((rc = ldg_cursor_open(t, ldg_core(l, ldg_db_entries(t)), &ce)) < 0 ||
        (rc = ldg_cursor_open(t, ldg_core(l, ldg_db_bodies(t)), &cb)) < 0)
        goto out;
    ldg_be64(key, from);
    for (rc = ldg_cursor_get(ce, LDG_SET_RANGE, key, 8, &k, &v);
         rc == 0 && k.len == 8 && ldg_rd_be64(k.data) < to;
         rc = ldg_cursor_get(ce, LDG_NEXT, NULL, 0, &k, &v)) {
        struct ldg_event ev;
        if (ldg_entry_decode_rec(v.data, v.len, NULL, &ev,
                                 LDG_DECODE_TRUSTED | LDG_DECODE_NO_DIGEST) ==
                0 &&
            (rc = ldg_train_envelope(tr, &ev)) < 0)
            goto out;
    }
    if (rc < 0 && rc != LDG_ENOTFOUND)
        goto out;
    for (rc = ldg_cursor_get(cb, LDG_SET_RANGE, key, 8, &k, &v);
         rc == 0 && k.len == 8 && ldg_rd_be64(k.data) < to;
         rc = ldg_cursor_get(cb, LDG_NEXT, NULL, 0, &k, &v)) {
        /* a record that does not open is left out (verify names it) */
        int brc = ldg_train_body(tr, d, v.data, v.len, l->opts.body_max_bytes);
        if (brc == LDG_ENOMEM) {
            rc = brc;
            goto out;
        }
    }
    rc = rc == LDG_ENOTFOUND || rc == 0 ? 0 : rc;
out:
    ldg_cursor_close(ce);
    ldg_cursor_close(cb);
    return rc;
}

/* Trains dictionary id on the last events of a log of size events and
 * stores it (or takes the one another writer stored first). */
int
ldg_dict_make(struct ldg_ledger *l, unsigned id, uint64_t size)
{
    struct ldg_train *tr = NULL;
    struct ldg_txn *t = NULL;
    uint8_t *dict = NULL, key = (uint8_t)id;
    size_t len = 0;
    uint64_t from =
        size > LDG_DICT_TRAIN_EVENTS ? size - LDG_DICT_TRAIN_EVENTS : 0;
    int rc;

    if ((rc = ldg_train_new(&tr)) < 0)
        return rc;
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
        goto out;
    if (from < ldg_txn_horizon(t))
        from = ldg_txn_horizon(t);
    rc = window(t, from, size, tr);
    ldg_txn_abort(t);
    t = NULL;
    if (rc < 0 || (rc = ldg_dict_train(tr, id, &dict, &len)) < 0)
        goto out;
    if ((rc = ldg_txn_begin(l, LDG_TXN_WRITE, &t)) < 0)
        goto out;
    rc = ldg_kv_put_new(t, ldg_core(l, LDG_DB_DICTS), &key, 1, dict, len);
    if (rc == 0)
        rc = ldg_txn_commit(t);
    else
        ldg_txn_abort(t);
    t = NULL;
    if (rc == LDG_EEXIST)
        rc = 0; /* another writer's: read below */
    if (rc < 0)
        goto out;
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
        goto out;
    rc = ldg_dict_refresh(l, t);
    ldg_txn_abort(t);
    t = NULL;
out:
    ldg_txn_abort(t);
    free(dict);
    ldg_train_free(tr);
    return rc;
}

void
ldg_dict_after_commit(struct ldg_ledger *l, uint64_t size)
{
    const struct ldg_cdict *cur;
    struct ldg_txn *t;
    unsigned next;
    uint64_t due;
    int rc;

    if (l->opts.flags & LDG_RDONLY)
        return;
    cur = ldg_ledger_cdict(l);
    next = cur != NULL ? ldg_cdict_id(cur) + 1 : 1;
    if (next >= LDG_DICT_IDS || (due = due_at(next)) == 0 || size < due ||
        (l->dict_tried != 0 && size < 2 * l->dict_tried))
        return;
    /* another writer may have made it: take the newest there is */
    if (ldg_txn_begin(l, LDG_TXN_READ, &t) == 0) {
        rc = ldg_dict_refresh(l, t);
        ldg_txn_abort(t);
        cur = ldg_ledger_cdict(l);
        next = cur != NULL ? ldg_cdict_id(cur) + 1 : 1;
        if (rc < 0 || next >= LDG_DICT_IDS || (due = due_at(next)) == 0 ||
            size < due)
            return;
    }
    /* What the commit wrote is durable whatever happens here: a dictionary
     * that cannot be made now is tried again when the log has doubled. */
    if (ldg_dict_make(l, next, size) < 0)
        l->dict_tried = size;
    ldg_errbuf(l)[0] = '\0';
}
