/*
 * read.c — reading events and bodies by sequence number.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ledger/ledger_int.h"
#include "ledger/tlog_int.h"

/* ------------------------------------------------------------ reading -- */

static void
seq_key(uint8_t k[8], uint64_t seq)
{
    ldg_be64(k, seq);
}

int
ldg_txn_size(struct ldg_txn *t, uint64_t *size)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_cursor *c;
    struct ldg_val k;
    int rc = ldg_cursor_open(t, ldg_core(l, LDG_DB_ENTRIES), &c);
    if (rc < 0)
        return rc;
    rc = ldg_cursor_get(c, LDG_LAST, NULL, 0, &k, NULL);
    ldg_cursor_close(c);
    if (rc == LDG_ENOTFOUND) {
        *size = 0;
        return 0;
    }
    if (rc < 0)
        return rc;
    if (k.len != 8)
        return LDG_ECORRUPT;
    *size = ldg_rd_be64(k.data) + 1;
    return 0;
}

int
ldg_size(struct ldg_ledger *l, uint64_t *size)
{
    struct ldg_txn *t;
    int rc = ldg_txn_begin(l, LDG_TXN_READ, &t);
    if (rc < 0)
        return rc;
    rc = ldg_txn_size(t, size);
    ldg_txn_abort(t);
    return rc;
}

/* A seq not found: LDG_EPRUNED when it is before the ledger's horizon. */
static int
pruned_or(struct ldg_txn *t, uint64_t seq, int rc)
{
    if (rc == LDG_ENOTFOUND && seq < ldg_txn_horizon(t))
        return LDG_EPRUNED;
    return rc;
}

int
ldg_event_get(struct ldg_txn *t, uint64_t seq, struct ldg_event *ev)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    uint8_t k[8];
    struct ldg_val v;
    int rc;

    seq_key(k, seq);
    rc = ldg_kv_get(t, ldg_core(l, LDG_DB_ENTRIES), k, 8, &v);
    if (rc < 0)
        return pruned_or(t, seq, rc);
    return ldg_event_decode(v.data, v.len, ev);
}

uint64_t
ldg_event_time(const struct ldg_event *ev)
{
    return ev->has_time ? ev->time_ns : ev->ts_ns;
}

json_t *
ldg_event_source_json(const struct ldg_event *ev)
{
    json_t *src;

    if (!ev->has_source)
        return NULL;
    src = json_pack("{s:I, s:I, s:I}", "uid", (json_int_t)ev->src_uid, "gid",
                    (json_int_t)ev->src_gid, "pid", (json_int_t)ev->src_pid);
    if (src != NULL && ev->src_exe_len > 0)
        json_object_set_new(src, "exe",
                            json_stringn(ev->src_exe, ev->src_exe_len));
    if (src != NULL && ev->src_unit_len > 0)
        json_object_set_new(src, "unit",
                            json_stringn(ev->src_unit, ev->src_unit_len));
    return src;
}

int
ldg_event_get_ex(struct ldg_txn *t, uint64_t seq, struct ldg_event *ev,
                 unsigned flags)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    uint8_t k[8];
    struct ldg_val v;
    int rc;

    seq_key(k, seq);
    rc = ldg_kv_get(t, ldg_core(l, LDG_DB_ENTRIES), k, 8, &v);
    if (rc < 0)
        return pruned_or(t, seq, rc);
    rc = ldg_event_decode_flags(v.data, v.len, ev, flags);
    if (rc == 0 && (flags & LDG_DECODE_TRUSTED) &&
        ldg_tree_stored_hash(t, 0, seq, ev->leaf) != 0)
        ldg_tlog_leaf_hash(ev->leaf, v.data, v.len);
    return rc;
}

int
ldg_body_raw(struct ldg_txn *t, uint64_t seq, struct ldg_val *v)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    uint8_t k[8];
    int rc;
    seq_key(k, seq);
    rc = ldg_kv_get(t, ldg_core(l, LDG_DB_BODIES), k, 8, v);
    if (rc == LDG_ENOTFOUND) {
        struct ldg_val e;
        if (ldg_kv_get(t, ldg_core(l, LDG_DB_ENTRIES), k, 8, &e) == 0)
            return LDG_EERASED;
        return pruned_or(t, seq, rc);
    }
    return rc;
}

int
ldg_body_get(struct ldg_txn *t, uint64_t seq, json_t **out)
{
    struct ldg_val v;
    int rc = ldg_body_raw(t, seq, &v);
    if (rc < 0)
        return rc;
    return ldg_body_decode_json(v.data, v.len,
                                ldg_txn_ledger(t)->opts.body_max_bytes, out);
}

int
ldg_body_json_append(struct ldg_txn *t, uint64_t seq, char **buf, size_t *len,
                     size_t *cap)
{
    struct ldg_val v;
    int rc = ldg_body_raw(t, seq, &v);
    if (rc < 0)
        return rc;
    return ldg_body_record_json_append(
        v.data, v.len, ldg_txn_ledger(t)->opts.body_max_bytes, buf, len, cap);
}

int
ldg_body_fields(struct ldg_txn *t, uint64_t seq, struct ldg_field **out,
                size_t *n)
{
    struct ldg_val v;
    int rc = ldg_body_raw(t, seq, &v);
    if (rc < 0)
        return rc;
    return ldg_body_decode(v.data, v.len,
                           ldg_txn_ledger(t)->opts.body_max_bytes, out, n);
}

int
ldg_event_verify_sig(const struct ldg_event *ev, const uint8_t pub[32])
{
    if (ev->sealed) /* no signature of its own: its seal vouches for it */
        return LDG_EBADSIG;
    return ldg_ed25519_verify_ctx(ev->sig, LDG_CTX_EVENT, ev->signed_part,
                                  ev->signed_len, pub);
}
