/*
 * reindex.c — rebuilding the secondary indexes from the log.
 *
 * The five index databases are emptied and refilled from the entries in
 * one write transaction, so a reader sees either the old indexes or the
 * complete new ones, and a crash leaves the old ones. Keys, as ledger/
 * index.c writes them in the append transaction (empty values):
 *
 *   idx.type     type    ‖ 0x00 ‖ seq be64
 *   idx.subject  subject ‖ 0x00 ‖ seq be64
 *   idx.run      run     ‖ 0x00 ‖ seq be64      (events with a run only)
 *   idx.actor    key_id  ‖ 0x00 ‖ seq be64
 *   idx.time     ts_ns be64 ‖ seq be64
 */
#include <string.h>

#include "query/query_int.h"

static size_t
str_key(uint8_t *k, const char *s, uint64_t seq)
{
    size_t n = strlen(s);
    memcpy(k, s, n);
    k[n] = 0;
    for (int i = 0; i < 8; i++)
        k[n + 1 + i] = (uint8_t)(seq >> (56 - 8 * i));
    return n + 9;
}

static int
index_event(struct ldg_txn *t, const ldg_dbi db[5], const struct ldg_event *ev)
{
    uint8_t k[LDG_SUBJECT_MAX + 16];
    size_t n;
    int rc;

    n = str_key(k, ev->type, ev->seq);
    if ((rc = ldg_kv_put(t, db[0], k, n, "", 0)) < 0)
        return rc;
    n = str_key(k, ev->subject, ev->seq);
    if ((rc = ldg_kv_put(t, db[1], k, n, "", 0)) < 0)
        return rc;
    if (ev->run[0] != '\0') {
        n = str_key(k, ev->run, ev->seq);
        if ((rc = ldg_kv_put(t, db[2], k, n, "", 0)) < 0)
            return rc;
    }
    n = str_key(k, ev->actor, ev->seq);
    if ((rc = ldg_kv_put(t, db[3], k, n, "", 0)) < 0)
        return rc;
    for (int i = 0; i < 8; i++) {
        k[i] = (uint8_t)(ev->ts_ns >> (56 - 8 * i));
        k[8 + i] = (uint8_t)(ev->seq >> (56 - 8 * i));
    }
    return ldg_kv_put(t, db[4], k, 16, "", 0);
}

int
ldg_query_reindex(struct ldg_ledger *l)
{
    static const char *const names[5] = {"idx.type", "idx.subject", "idx.run",
                                         "idx.actor", "idx.time"};
    struct ldg_txn *t = NULL;
    struct ldg_cursor *c = NULL;
    struct ldg_val k, v;
    ldg_dbi db[5], entries;
    uint64_t expect = 0;
    int rc;

    if (l == NULL)
        return LDG_EINVAL;
    if ((rc = ldg_txn_begin(l, LDG_TXN_WRITE, &t)) < 0) {
        ldg_set_errmsg(l, "reindex: cannot begin a write transaction: %s",
                       ldg_strerror(rc));
        return rc;
    }
    for (int i = 0; i < 5; i++) {
        if ((rc = ldg_db_open(t, names[i], LDG_DB_CREATE, &db[i])) < 0 ||
            (rc = ldg_db_drop(t, db[i], 0)) < 0) {
            ldg_set_errmsg(l, "reindex: %s: %s", names[i], ldg_strerror(rc));
            goto out;
        }
    }
    if ((rc = ldg_db_open(t, "entries", 0, &entries)) < 0 ||
        (rc = ldg_cursor_open(t, entries, &c)) < 0) {
        ldg_set_errmsg(l, "reindex: entries: %s", ldg_strerror(rc));
        goto out;
    }
    for (rc = ldg_cursor_get(c, LDG_FIRST, NULL, 0, &k, &v); rc == 0;
         rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v)) {
        struct ldg_event ev;
        rc = ldg_event_decode(v.data, v.len, &ev);
        if (rc == 0 && ev.seq != expect)
            rc = LDG_ECORRUPT;
        if (rc < 0) {
            ldg_set_errmsg(l, "reindex: event %llu: %s (run ledger verify)",
                           (unsigned long long)expect, ldg_strerror(rc));
            goto out;
        }
        if ((rc = index_event(t, db, &ev)) < 0) {
            ldg_set_errmsg(l,
                           "reindex: event %llu: cannot write the index: "
                           "%s",
                           (unsigned long long)ev.seq, ldg_strerror(rc));
            goto out;
        }
        expect++;
    }
    if (rc != LDG_ENOTFOUND) {
        ldg_set_errmsg(l, "reindex: reading entries: %s", ldg_strerror(rc));
        goto out;
    }
    ldg_cursor_close(c);
    c = NULL;
    rc = ldg_txn_commit(t);
    t = NULL;
    if (rc < 0)
        ldg_set_errmsg(l, "reindex: commit: %s", ldg_strerror(rc));
out:
    ldg_cursor_close(c);
    ldg_txn_abort(t);
    return rc;
}
