/*
 * index.c — secondary indexes, maintained in the append transaction.
 *
 * Each index is an LMDB database whose keys sort events by a field, with
 * empty values:
 *
 *   idx.type     type    ‖ 0x00 ‖ seq be64
 *   idx.subject  subject ‖ 0x00 ‖ seq be64
 *   idx.run      run     ‖ 0x00 ‖ seq be64      (events with a run only)
 *   idx.actor    key_id  ‖ 0x00 ‖ seq be64
 *   idx.time     ts_ns be64 ‖ seq be64
 *
 * Strings never contain NUL, so "value ‖ 0x00" is a prefix no other value
 * shares and a range scan from it yields that value's events in order.
 */
#include <string.h>

#include "ledger/ledger_int.h"

static size_t
str_key(uint8_t *k, const char *s, uint64_t seq)
{
    size_t n = strlen(s);
    memcpy(k, s, n);
    k[n] = 0;
    ldg_be64(k + n + 1, seq);
    return n + 9;
}

/* Calls fn for each (db, key) of ev. */
static int
each_key(struct ldg_txn *t, const struct ldg_event *ev,
         int (*fn)(struct ldg_txn *, ldg_dbi, const uint8_t *, size_t))
{
    struct ldg_store *s = ldg_txn_store(t);
    uint8_t k[LDG_SUBJECT_MAX + 16];
    size_t n;
    int rc;

    n = str_key(k, ev->type, ev->seq);
    if ((rc = fn(t, ldg_store_core_dbi(s, LDG_DB_IDX_TYPE), k, n)) < 0)
        return rc;
    n = str_key(k, ev->subject, ev->seq);
    if ((rc = fn(t, ldg_store_core_dbi(s, LDG_DB_IDX_SUBJECT), k, n)) < 0)
        return rc;
    if (ev->run[0] != '\0') {
        n = str_key(k, ev->run, ev->seq);
        if ((rc = fn(t, ldg_store_core_dbi(s, LDG_DB_IDX_RUN), k, n)) < 0)
            return rc;
    }
    n = str_key(k, ev->actor, ev->seq);
    if ((rc = fn(t, ldg_store_core_dbi(s, LDG_DB_IDX_ACTOR), k, n)) < 0)
        return rc;
    ldg_be64(k, ev->ts_ns);
    ldg_be64(k + 8, ev->seq);
    return fn(t, ldg_store_core_dbi(s, LDG_DB_IDX_TIME), k, 16);
}

static int
put_one(struct ldg_txn *t, ldg_dbi db, const uint8_t *k, size_t n)
{
    return ldg_kv_put(t, db, k, n, "", 0);
}

static int
check_one(struct ldg_txn *t, ldg_dbi db, const uint8_t *k, size_t n)
{
    struct ldg_val v;
    return ldg_kv_get(t, db, k, n, &v);
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
