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

#include "ledger/log_int.h"
#include "ledger/tree_int.h"
#include "ledger/tlog_int.h"

/* ------------------------------------------------------------ reading -- */

static void
seq_key(uint8_t k[8], uint64_t seq)
{
    ldg_be64(k, seq);
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
ldg_entry_record(struct ldg_txn *t, uint64_t seq, const uint8_t **rec,
                 size_t *len)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    uint8_t k[8];
    struct ldg_val v;
    int rc;

    seq_key(k, seq);
    rc = ldg_kv_get(t, ldg_core(l, ldg_db_entries(t)), k, 8, &v);
    if (rc < 0)
        return pruned_or(t, seq, rc);
    *rec = v.data;
    *len = v.len;
    return 0;
}

int
ldg_event_entry(struct ldg_txn *t, uint64_t seq, uint8_t *buf, size_t cap,
                const uint8_t **entry, size_t *len)
{
    const uint8_t *rec;
    size_t rl;
    uint8_t prev[32];
    int rc;

    if (t == NULL || entry == NULL || len == NULL)
        return LDG_EINVAL;
    if ((rc = ldg_entry_record(t, seq, &rec, &rl)) < 0)
        return rc;
    if (rl > 0 && rec[0] == 0x93) {
        *entry = rec;
        *len = rl;
        return 0;
    }
    if (buf == NULL)
        return LDG_EINVAL;
    if ((rc = ldg_entry_prev(t, seq, prev)) < 0 ||
        (rc = ldg_entry_whole(rec, rl, prev, buf, cap, len)) < 0)
        return rc;
    *entry = buf;
    return 0;
}

/* Decodes record rec of event seq, with prev from the stored tree when the
 * record needs one (layout 5's stored form) and want_prev says so. */
static int
decode_at(struct ldg_txn *t, uint64_t seq, const uint8_t *rec, size_t len,
          struct ldg_event *ev, unsigned flags, int want_prev)
{
    uint8_t prev[32];
    int rc;
    if (len > 0 && rec[0] == 0x93)
        return ldg_event_decode_flags(rec, len, ev, flags);
    if (!want_prev)
        return ldg_entry_decode_rec(rec, len, NULL, ev, flags);
    if ((rc = ldg_entry_prev(t, seq, prev)) < 0)
        return rc;
    return ldg_entry_decode_rec(rec, len, prev, ev, flags);
}

int
ldg_event_get(struct ldg_txn *t, uint64_t seq, struct ldg_event *ev)
{
    const uint8_t *rec;
    size_t len;
    int rc = ldg_entry_record(t, seq, &rec, &len);
    if (rc < 0)
        return ldg_counted(rc);
    return ldg_counted(decode_at(t, seq, rec, len, ev, 0, 1));
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

json_t *
ldg_event_json(const struct ldg_event *ev, const char *actor_name,
               unsigned flags)
{
    json_t *o = json_object();
    char tbuf[LDG_TIME_NS_LEN];
    int brief = (flags & LDG_EVENT_JSON_BRIEF) != 0;
    int v2 = ev->id_len > 0 || ev->has_time || ev->has_source;

    if (o == NULL)
        return NULL;
    json_object_set_new(o, "seq", ldg_json_u64(ev->seq));
    json_object_set_new(o, "ts", ldg_json_u64(ldg_event_time(ev)));
    json_object_set_new(o, "time",
                        json_string(ldg_time_rfc3339_ns(tbuf, sizeof tbuf,
                                                        ldg_event_time(ev))));
    if (v2 || !(flags & LDG_EVENT_JSON_RECORDED_V2)) {
        json_object_set_new(o, "recorded_ts", ldg_json_u64(ev->ts_ns));
        json_object_set_new(
            o, "recorded_time",
            json_string(ldg_time_rfc3339_ns(tbuf, sizeof tbuf, ev->ts_ns)));
        json_object_set_new(o, "clock",
                            json_string(ev->has_time ? "source" : "ledger"));
    }
    json_object_set_new(o, "type", json_string(ev->type));
    json_object_set_new(o, "subject", json_string(ev->subject));
    if (ev->run[0] && !brief)
        json_object_set_new(o, "run", json_string(ev->run));
    if (ev->has_parent && !brief)
        json_object_set_new(o, "parent", ldg_json_u64(ev->parent));
    if (!brief)
        json_object_set_new(o, "actor", json_string(ev->actor));
    if (actor_name != NULL && actor_name[0] && !brief)
        json_object_set_new(o, "actor_name", json_string(actor_name));
    if (ev->id_len > 0)
        json_object_set_new(o, "id", json_stringn(ev->id, ev->id_len));
    if (ev->has_source)
        json_object_set_new(o, "source", ldg_event_source_json(ev));
    if (brief)
        return o;
    json_object_set_new(o, "prev", ldg_json_hex(ev->prev, 32));
    json_object_set_new(o, "body_commitment", ldg_json_hex(ev->body_root, 32));
    json_object_set_new(o, "leaf_hash", ldg_json_hex(ev->leaf, 32));
    if (ev->sealed) {
        /* format 2: no signature of its own; its claim digest and the
         * seal that covers it */
        json_object_set_new(o, "claim_digest", ldg_json_hex(ev->digest, 32));
        json_object_set_new(o, "seal", ldg_json_u64(ev->seal_seq));
        json_object_set_new(o, "seal_leaf", ldg_json_u64(ev->seal_leaf));
    } else {
        json_object_set_new(o, "signature", ldg_json_hex(ev->sig, 64));
    }
    return o;
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
    rc = ldg_kv_get(t, ldg_core(l, ldg_db_entries(t)), k, 8, &v);
    if (rc < 0)
        return pruned_or(t, seq, rc);
    rc = decode_at(t, seq, v.data, v.len, ev, flags,
                   !(flags & LDG_DECODE_TRUSTED));
    if (rc == 0 && (flags & LDG_DECODE_TRUSTED)) {
        int hrc = ldg_tree_stored_hash(t, 0, seq, ev->leaf), prc = 0;
        if (hrc != 0 && ev->entry != NULL)
            ldg_tlog_leaf_hash(ev->leaf, v.data, v.len);
        if (ev->entry == NULL)
            prc = ldg_entry_prev(t, seq, ev->prev);
        /* out of memory, or an I/O error: a leaf or prev left unread
         * would be written out as the event's (a view, a bundle) */
        if (ldg_rc_machine(hrc) && ev->entry == NULL)
            rc = hrc;
        else if (ldg_rc_machine(prc))
            rc = prc;
    }
    return rc;
}

int
ldg_body_raw(struct ldg_txn *t, uint64_t seq, struct ldg_val *v)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    uint8_t k[8];
    int rc;
    seq_key(k, seq);
    rc = ldg_kv_get(t, ldg_core(l, ldg_db_bodies(t)), k, 8, v);
    if (rc == LDG_ENOTFOUND) {
        struct ldg_val e;
        if (ldg_kv_get(t, ldg_core(l, ldg_db_entries(t)), k, 8, &e) == 0)
            return LDG_EERASED;
        return pruned_or(t, seq, rc);
    }
    return rc;
}

int
ldg_body_get(struct ldg_txn *t, uint64_t seq, json_t **out)
{
    struct ldg_val v;
    const struct ldg_dicts *d;
    int rc = ldg_body_raw(t, seq, &v);
    if (rc < 0)
        return rc;
    if ((d = ldg_txn_dicts(t)) == NULL)
        return LDG_ECORRUPT;
    return ldg_counted(ldg_body_decode_json(
        d, v.data, v.len, ldg_txn_ledger(t)->opts.body_max_bytes, out));
}

int
ldg_body_json_append(struct ldg_txn *t, uint64_t seq, char **buf, size_t *len,
                     size_t *cap)
{
    struct ldg_val v;
    const struct ldg_dicts *d;
    int rc = ldg_body_raw(t, seq, &v);
    if (rc < 0)
        return rc;
    if ((d = ldg_txn_dicts(t)) == NULL)
        return LDG_ECORRUPT;
    return ldg_body_record_json_append(d, v.data, v.len,
                                       ldg_txn_ledger(t)->opts.body_max_bytes,
                                       buf, len, cap);
}

int
ldg_body_fields(struct ldg_txn *t, uint64_t seq, struct ldg_field **out,
                size_t *n)
{
    struct ldg_val v;
    const struct ldg_dicts *d;
    int rc = ldg_body_raw(t, seq, &v);
    if (rc < 0)
        return rc;
    if ((d = ldg_txn_dicts(t)) == NULL)
        return LDG_ECORRUPT;
    return ldg_body_decode(d, v.data, v.len,
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
