/*
 * append.c — appending events: one (ldg_append) or a group in one
 * transaction (ldg_batch_*); the bulk writer (writer.c) drives the same steps.
 *
 *
 * The append path, for a group of events in one LMDB write transaction:
 *
 *   1. validate (vocabulary, sizes, actor key)      -- before the txn
 *   2. stamp: seq = log size + i, ts = max(clock, last ts + 1)
 *   3. body: salts, field digests, commitment, stored record
 *   4. encode the event map and sign it (ctx "ledger/event/v1")
 *   5. finish the entry with prev = leaf hash of entry seq-1
 *   6. put entry, body, Merkle stored hashes, indexes, key registry;
 *      run the appliers (projections) on the same transaction
 *   7. after the last event: sign a checkpoint of the new tree size
 *   8. commit (fsync) -- only now is anything acknowledged
 *
 * Steps 2-4 do not depend on the previous entry (the signature covers the
 * event map, not prev), so the bulk writer does them ahead of time on
 * worker threads with a predicted seq and ts, and step 6 checks that the
 * prediction held (another process may have appended in between); if not,
 * it stamps and signs again.
 *
 * A full map aborts the transaction, grows the map and redoes the group;
 * nothing of the group was acknowledged, nothing before it is touched.
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

#include "ledger/append_int.h"
#include "ledger/epoch_int.h"
#include "ledger/intake_int.h"
#include "ledger/intake_log_int.h"
#include "ledger/index_int.h"
#include "ledger/keys_int.h"
#include "ledger/log_int.h"
#include "ledger/tree_int.h"
#include "ledger/tlog_int.h"

int
app_read_tail(struct ldg_txn *t, struct tail *tl)
{
    struct ldg_event ev;
    int rc;

    memset(tl, 0, sizeof *tl);
    /* one layout to append to: the newest (an older one is read, and
     * converted by ledger migrate) */
    if ((rc = ldg_txn_writable(t)) < 0)
        return rc;
    /* a handle opened before `migrate --layout 9` has no intake: its
     * appends would go to LMDB behind the intake's back, and the intake's
     * next frame take their seqs (acknowledged events lost). Refused: the
     * program opens the ledger again, and appends through the intake */
    if (ldg_txn_has(t, LDG_HAS_INTAKE) > 0 && ldg_txn_ledger(t) != NULL &&
        ldg_txn_ledger(t)->intake == NULL) {
        ldg_seterr(ldg_txn_ledger(t),
                   "%s was migrated to store layout %d (its intake log) "
                   "since this program opened it: nothing was written; open "
                   "it again (restart the program) to append",
                   ldg_txn_ledger(t)->dir, ldg_txn_layout(t));
        return LDG_EVERSION;
    }
    rc = ldg_txn_size(t, &tl->size);
    if (rc < 0 || tl->size == 0)
        return rc;
    rc = ldg_event_get(t, tl->size - 1, &ev);
    if (rc < 0)
        return rc == LDG_ENOTFOUND ? LDG_ECORRUPT : rc;
    tl->ts = ev.ts_ns;
    memcpy(tl->leaf, ev.leaf, 32);
    return 0;
}

const char *
ldg_dup_diff_names(unsigned differs, char *buf, size_t cap)
{
    static const char *const names[] = {"type",  "subject", "run", "parent",
                                        "actor", "time",    "body"};
    size_t n = 0;
    if (cap == 0)
        return buf;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (differs & (1u << i))
            n += (size_t)snprintf(buf + (n < cap ? n : cap - 1),
                                  n < cap ? cap - n : 1, "%s%s",
                                  n > 0 ? ", " : "", names[i]);
    return buf;
}

/* What of p differs from event seq, which already carries p's id. */
static int
app_dup_differs(struct ldg_txn *t, const struct ldg_prep *p, uint64_t seq,
                unsigned *differs)
{
    struct ldg_event ev;
    json_t *body = NULL;
    int rc = ldg_event_get(t, seq, &ev);

    *differs = 0;
    if (rc < 0)
        return rc == LDG_ENOTFOUND ? LDG_ECORRUPT : rc;
    if (strcmp(ev.type, p->type) != 0)
        *differs |= LDG_DIFF_TYPE;
    if (strcmp(ev.subject, p->subject) != 0)
        *differs |= LDG_DIFF_SUBJECT;
    if (strcmp(ev.run, p->run) != 0)
        *differs |= LDG_DIFF_RUN;
    if (ev.has_parent != p->has_parent ||
        (p->has_parent && ev.parent != p->parent))
        *differs |= LDG_DIFF_PARENT;
    if (strcmp(ev.actor, p->signer->key_id) != 0)
        *differs |= LDG_DIFF_ACTOR;
    if (ev.has_time != p->has_time || (p->has_time && ev.time_ns != p->time_ns))
        *differs |= LDG_DIFF_TIME;
    rc = ldg_body_get(t, seq, &body);
    if (rc == LDG_EERASED)
        return 0; /* nothing left to compare with */
    if (rc < 0)
        return rc;
    if (p->body != NULL) {
        if (!json_equal(body, p->body))
            *differs |= LDG_DIFF_BODY;
    } else {
        /* the writer kept only the record (ldg_prep_compact): compare it
         * decoded, as the stored one is */
        json_t *mine = NULL;
        rc = ldg_body_decode_json(
            ldg_txn_dicts(t), p->body_rec.rec, p->body_rec.rec_len,
            ldg_txn_ledger(t)->opts.body_max_bytes, &mine);
        if (rc < 0) {
            json_decref(body);
            return rc;
        }
        if (!json_equal(body, mine))
            *differs |= LDG_DIFF_BODY;
        json_decref(mine);
    }
    json_decref(body);
    return 0;
}

/* p's id already in the log (or earlier in this transaction)? 1 and
 * p->dup, dup_seq, dup_differs set; 0 if not (or p has no id). */
static int
find_dup(struct ldg_txn *t, struct ldg_prep *p)
{
    uint64_t have;
    int rc;

    p->dup = 0;
    p->dup_differs = 0;
    if (p->id[0] == '\0')
        return 0;
    rc = ldg_index_id_lookup(t, p->id, strlen(p->id), &have);
    if (rc == LDG_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    if ((rc = app_dup_differs(t, p, have, &p->dup_differs)) < 0)
        return rc;
    p->dup = 1;
    p->dup_seq = have;
    return 1;
}

/* The message of an id already in the log. */
static void
dup_message(struct ldg_ledger *l, const struct ldg_prep *p)
{
    char what[96];
    if (p->dup_differs)
        ldg_seterr(l,
                   "id '%s' is already event %llu, which differs from this "
                   "one in %s: not appended again",
                   p->id, (unsigned long long)p->dup_seq,
                   ldg_dup_diff_names(p->dup_differs, what, sizeof what));
    else
        ldg_seterr(l, "id '%s' is already event %llu: not appended again",
                   p->id, (unsigned long long)p->dup_seq);
}

/* Semantic checks that need the log: key events, erasure, parent links,
 * actor validity at this point. */
int
app_check_in_txn(struct ldg_txn *t, struct ldg_prep *p, uint64_t seq,
                 int *erase, uint64_t *erase_target)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_key_state ks;
    int rc;

    *erase = 0;
    if ((rc = find_dup(t, p)) != 0) {
        if (rc > 0) {
            dup_message(l, p);
            return LDG_EDUPLICATE;
        }
        return rc;
    }
    if (p->has_parent && p->parent >= seq) {
        ldg_seterr(l, "parent %llu is not an earlier event than %llu",
                   (unsigned long long)p->parent, (unsigned long long)seq);
        return LDG_EBADINPUT;
    }
    if (seq > 0) {
        rc = ldg_keys_lookup(t, p->signer->key_id, &ks);
        if (rc == LDG_ENOTFOUND) {
            ldg_seterr(l, "key '%s' (%s) was never added to this ledger",
                       p->signer->name, p->signer->key_id);
            return LDG_EKEY;
        }
        if (rc < 0)
            return rc;
        if (ks.revoked_seq != UINT64_MAX) {
            ldg_seterr(l, "key '%s' (%s) was revoked at event %llu",
                       p->signer->name, p->signer->key_id,
                       (unsigned long long)ks.revoked_seq);
            return LDG_EKEY;
        }
        if ((rc = app_roles_refuse(l, &ks, p->type)) < 0)
            return rc;
    }
    if (strcmp(p->type, LDG_EV_KEY_ADDED) == 0) {
        const char *hex =
            json_string_value(json_object_get(p->body, "public_key"));
        const char *id = json_string_value(json_object_get(p->body, "key_id"));
        const char *name = json_string_value(json_object_get(p->body, "actor"));
        uint8_t pub[32];
        char want[LDG_KEYID_LEN + 1];
        if (ldg_unhex(pub, 32, hex) < 0) {
            ldg_seterr(l, "key.added: field 'public_key': must be 64 hex "
                          "digits");
            return LDG_EBADINPUT;
        }
        ldg_key_id(want, pub);
        if (strcmp(want, id) != 0) {
            ldg_seterr(l,
                       "key.added: field 'key_id': is %s, the key's id "
                       "is %s",
                       id, want);
            return LDG_EBADINPUT;
        }
        if (!ldg_key_name_valid(name)) {
            ldg_seterr(l, "key.added: field 'actor': invalid key name");
            return LDG_EBADINPUT;
        }
        if (ldg_keys_lookup(t, id, &ks) == 0) {
            ldg_seterr(l, "key %s was already added at event %llu", id,
                       (unsigned long long)ks.added_seq);
            return LDG_EEXIST;
        }
        if (ldg_keys_lookup_name(t, name, &ks) == 0 &&
            ks.revoked_seq == UINT64_MAX) {
            ldg_seterr(l, "a key named '%s' is already active (%s)", name,
                       ks.key_id);
            return LDG_EEXIST;
        }
    } else if (strcmp(p->type, LDG_EV_KEY_REVOKED) == 0) {
        const char *id = json_string_value(json_object_get(p->body, "key_id"));
        if (ldg_keys_lookup(t, id, &ks) < 0) {
            ldg_seterr(l, "key.revoked: no key %s in this ledger", id);
            return LDG_EBADINPUT;
        }
        if (strcmp(id, l->log_key->key_id) == 0) {
            ldg_seterr(l, "the log key cannot be revoked");
            return LDG_EBADINPUT;
        }
        if (ks.revoked_seq != UINT64_MAX) {
            ldg_seterr(l, "key %s was already revoked at event %llu", id,
                       (unsigned long long)ks.revoked_seq);
            return LDG_EBADINPUT;
        }
    } else if (strcmp(p->type, LDG_EV_BODY_ERASED) == 0) {
        json_int_t tgt =
            json_integer_value(json_object_get(p->body, "target_seq"));
        struct ldg_event tev;
        struct ldg_val v;
        uint8_t k[8];
        if (tgt < 0 || (uint64_t)tgt >= seq) {
            ldg_seterr(l,
                       "body.erased: field 'target_seq': %lld is not an "
                       "earlier event",
                       (long long)tgt);
            return LDG_EBADINPUT;
        }
        if ((rc = ldg_event_get(t, (uint64_t)tgt, &tev)) < 0)
            return rc;
        if (strcmp(tev.type, LDG_EV_LEDGER_GENESIS) == 0 ||
            strncmp(tev.type, "key.", 4) == 0 ||
            strcmp(tev.type, LDG_EV_BODY_ERASED) == 0) {
            ldg_seterr(l,
                       "body.erased: event %lld (%s) is needed for "
                       "verification and cannot be erased",
                       (long long)tgt, tev.type);
            return LDG_EBADINPUT;
        }
        ldg_be64(k, (uint64_t)tgt);
        if (ldg_kv_get(t, ldg_core(l, ldg_db_bodies(t)), k, 8, &v) != 0) {
            ldg_seterr(l, "body.erased: event %lld is already erased",
                       (long long)tgt);
            return LDG_EBADINPUT;
        }
        *erase = 1;
        *erase_target = (uint64_t)tgt;
    }
    return 0;
}

static const json_t *
empty_object(void)
{
    static json_t *empty;
    if (empty == NULL)
        empty = json_object();
    return empty;
}

/* The appliers (projections) on event ev, p's. Where the writer kept
 * only p's body record, an applier that reads records gets it; the
 * others (or one that cannot read it in place) the body decoded. */
static int
apply_all(struct ldg_txn *t, const json_t *body, const struct ldg_body_rec *br,
          const struct ldg_event *ev)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    const json_t *json = body;
    json_t *decoded = NULL;
    int rc = 0;

    if (json == NULL && br->rec == NULL)
        json = empty_object();
    for (size_t i = 0; rc == 0 && i < l->nappliers; i++) {
        const struct ldg_applier *a = &l->appliers[i];
        int done = 0;
        if (json == NULL && a->apply_record != NULL) {
            /* the record uncompressed when the writer kept it so */
            rc = br->raw != NULL
                     ? a->apply_record(a->ctx, t, ev, br->raw, br->raw_len)
                     : a->apply_record(a->ctx, t, ev, br->rec, br->rec_len);
            done = rc != 1;
        }
        if (!done) {
            rc = 0;
            if (json == NULL && (rc = ldg_body_decode_json(
                                     ldg_txn_dicts(t), br->rec, br->rec_len,
                                     l->opts.body_max_bytes, &decoded)) == 0)
                json = decoded;
            if (rc == 0)
                rc = a->apply(a->ctx, t, ev, json);
        }
        if (rc < 0 && ldg_errbuf(l)[0] == '\0')
            ldg_seterr(l, "event %llu: projection '%s' failed: %s",
                       (unsigned long long)ev->seq, a->name, ldg_strerror(rc));
    }
    json_decref(decoded);
    return rc;
}

static int store_event(struct ldg_txn *t, struct ldg_event *ev,
                       const struct ldg_body_rec *br, const json_t *body,
                       int erase, uint64_t target);

/* Steps 5-6 for one prepared, signed event. */
static int
store_one(struct ldg_txn *t, struct ldg_prep *p, const uint8_t prev[32],
          uint8_t leaf_out[32])
{
    int rc, erase = 0;
    uint64_t target = 0;

    rc = app_check_in_txn(t, p, p->seq, &erase, &target);
    if (rc < 0)
        return rc;
    return app_store_checked(t, p, prev, leaf_out, erase, target);
}

/* Stores an event check_in_txn accepted. A failure here leaves the
 * transaction half-written: it must be aborted. */
int
app_store_checked(struct ldg_txn *t, struct ldg_prep *p, const uint8_t prev[32],
                  uint8_t leaf_out[32], int erase, uint64_t target)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_event ev;
    int rc;

    p->entry.len = 1 + p->map_len; /* drop a trailer from a retried try */
    memset(&ev, 0, sizeof ev);
    if (l->format >= 2) {
        struct ldg_stamp st;
        memcpy(st.digest, p->digest, 32);
        st.leaf = p->seal_leaf;
        st.seal = p->seal_seq;
        st.seq = p->seq;
        st.ts = p->ts;
        st.source = p->has_source ? &p->source : NULL;
        if ((rc = ldg_entry2_finish(&p->entry, &st, prev)) < 0)
            return rc;
        ev.sealed = 1;
        ev.seal_seq = p->seal_seq;
        ev.seal_leaf = p->seal_leaf;
        memcpy(ev.digest, p->digest, 32);
    } else if ((rc = ldg_entry_finish(&p->entry, prev, p->sig)) < 0) {
        return rc;
    }
    ev.seq = p->seq;
    ev.ts_ns = p->ts;
    memcpy(ev.type, p->type, sizeof ev.type);
    /* prep_event kept them within the event's arrays */
    LDG_ASSERT(strlen(p->subject) < sizeof ev.subject &&
               strlen(p->run) < sizeof ev.run);
    memcpy(ev.subject, p->subject, strlen(p->subject) + 1);
    memcpy(ev.run, p->run, strlen(p->run) + 1);
    memcpy(ev.actor, p->signer->key_id, sizeof ev.actor);
    ev.has_parent = p->has_parent;
    ev.parent = p->parent;
    memcpy(ev.prev, prev, 32);
    memcpy(ev.body_root, p->body_rec.root, 32);
    if (l->format < 2)
        memcpy(ev.sig, p->sig, 64);
    ev.entry = p->entry.p;
    ev.entry_len = p->entry.len;
    ev.signed_part = p->entry.p + 1;
    ev.signed_len = p->map_len;
    ev.id = p->id;
    ev.id_len = strlen(p->id);
    ev.has_time = p->has_time;
    ev.time_ns = p->time_ns;
    if (p->has_source) {
        ev.has_source = 1;
        ev.src_uid = p->source.uid;
        ev.src_gid = p->source.gid;
        ev.src_pid = p->source.pid;
        ev.src_exe = p->source.exe;
        ev.src_exe_len = p->source.exe ? strlen(p->source.exe) : 0;
        ev.src_unit = p->source.unit;
        ev.src_unit_len = p->source.unit ? strlen(p->source.unit) : 0;
    }
    ldg_tlog_leaf_hash(ev.leaf, ev.entry, ev.entry_len);
    if ((rc = store_event(t, &ev, &p->body_rec, p->body, erase, target)) < 0)
        return rc;
    if (l->frame != NULL &&
        (rc = ldg_intake_build_event(l->frame, ev.entry, ev.entry_len,
                                     p->body_rec.rec, p->body_rec.rec_len)) < 0)
        return rc;
    memcpy(leaf_out, ev.leaf, 32);
    return 0;
}

/*
 * Stores a decoded event ev (its entry whole, its leaf hash in ev->leaf)
 * with its body record br and body (NULL: decoded from br where needed)
 * in every database the append keeps: the entry's stored form, the body,
 * the tree, the indexes, the body index, the key registry, an erasure,
 * the projections. The one path of an event into the store, from an
 * append (store_checked) or from the intake log (ldg_intake_apply_frame).
 */
static int
store_event(struct ldg_txn *t, struct ldg_event *evp,
            const struct ldg_body_rec *br, const json_t *body, int erase,
            uint64_t target)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_event ev = *evp;
    json_t *decoded = NULL;
    uint8_t k[8];
    int rc;

    /* the key registry reads the body itself */
    if (body == NULL && br->rec != NULL &&
        (strncmp(ev.type, "key.", 4) == 0 ||
         strcmp(ev.type, LDG_EV_LEDGER_GENESIS) == 0)) {
        if ((rc = ldg_body_decode_json(ldg_txn_dicts(t), br->rec, br->rec_len,
                                       l->opts.body_max_bytes, &decoded)) < 0)
            return rc;
        body = decoded;
    }
    /* stored without what a reader derives (prev), a sealed one with its
     * claim digest raw before it (layout 8): FORMAT.md 6.1 */
    {
        uint8_t cut[LDG_ENTRY_MAX];
        size_t cut_len;
        if ((rc = ldg_entry_stored(ev.entry, ev.entry_len, LDG_STORED_TAGGED,
                                   cut, sizeof cut, &cut_len)) < 0)
            goto out;
        ldg_be64(k, ev.seq);
        rc =
            ldg_kv_put_new(t, ldg_core(l, LDG_DB_ENTRIES5), k, 8, cut, cut_len);
    }
    if (rc == 0) {
        /* The body's key is the entry's: past every other (LMDB's append,
         * no search from the root). */
        rc = ldg_kv_put_new(t, ldg_core(l, LDG_DB_BODIES5), k, 8, br->rec,
                            br->rec_len);
        if (rc == LDG_EEXIST) /* not last after all: as before */
            rc = ldg_core_kv_put(t, ldg_core(l, LDG_DB_BODIES5), k, 8, br->rec,
                                 br->rec_len);
    }
    if (rc == 0 && !(l->opts.flags & LDG_BENCH_NOTREE))
        rc = ldg_tree_add_leaf(t, ev.seq, ev.leaf);
    else if (rc == 0) /* the leaf hashes the next append reads, no more */
        rc = ldg_tree_add_leaf_only(t, ev.seq, ev.leaf);
    if (rc == 0)
        rc = ldg_index_put(t, &ev);
    if (rc == 0)
        rc = ldg_bix_append(t, ev.seq, br->raw ? br->raw : br->rec,
                            br->raw ? br->raw_len : br->rec_len, body);
    if (rc == 0)
        rc = ldg_keys_apply(t, &ev, body);
    if (rc == 0 && erase) /* the erased values leave the body index too */
        rc = ldg_bix_erase(t, target);
    if (rc == 0 && erase) {
        ldg_be64(k, target);
        rc = ldg_core_kv_del(t, ldg_core(l, LDG_DB_BODIES5), k, 8, NULL, 0);
    }
    if (rc == 0 && l->nappliers > 0)
        rc = apply_all(t, body, br, &ev);
out:
    json_decref(decoded);
    return rc;
}

/* ------------------------------------------------------------ sealing -- */

void
app_seal_set_release(struct seal_set *ss)
{
    free(ss->s);
    memset(ss, 0, sizeof *ss);
}

/* Stores a signed seal whose first event is seal_seq, and the key's
 * sealed count after it. */
int
app_seal_store(struct ldg_txn *t, uint64_t seal_seq, const struct ldg_seal *s)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    uint8_t rec[LDG_SEAL_REC_MAX], k[LDG_SEQ_KEY_LEN];
    size_t n;
    int rc;

    if ((rc = ldg_seal_record_encode(s, rec, sizeof rec, &n)) < 0)
        return rc;
    ldg_be64(k, seal_seq);
    /* seals close in any order within a commit: no put_new (sorts last),
     * but never over another */
    {
        struct ldg_val v;
        rc = ldg_kv_get(t, ldg_core(l, LDG_DB_SEALS), k, LDG_SEQ_KEY_LEN, &v);
        if (rc == 0)
            return LDG_ECORRUPT;
        if (rc != LDG_ENOTFOUND)
            return rc;
    }
    rc = ldg_core_kv_put(t, ldg_core(l, LDG_DB_SEALS), k, LDG_SEQ_KEY_LEN, rec,
                         n);
    if (rc == 0)
        rc = ldg_keys_sealed_put(t, s->key_id, s->first + s->count);
    if (rc == 0)
        rc = ldg_epoch_seal_stored(t, seal_seq, s, 0);
    return rc;
}

static int
seal_close_one(struct ldg_txn *t, struct open_seal *o)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_seal s;
    uint8_t ext[LDG_EPOCH_EXT_MAX];
    int rc;

    memset(&s, 0, sizeof s);
    LDG_ASSERT(o->acc.count >= 1); /* a seal is opened by its first event */
    s.count = o->acc.count;
    s.first = o->first;
    memcpy(s.key_id, o->key->key_id, sizeof s.key_id);
    memcpy(s.origin, l->origin, sizeof s.origin);
    ldg_seal_acc_root(&o->acc, s.root);
    /* a key with an anchor: its epoch key signs, in place of the key
     * itself (epoch_log.c) */
    if ((rc = ldg_epoch_seal(t, o->key, o->seal_seq, &s, ext, sizeof ext)) < 0)
        return rc;
    if (s.ext_len == 0 && (rc = ldg_seal_sign(&s, o->key)) < 0) {
        ldg_seterr(l, "cannot seal with key %s: %s", o->key->key_id,
                   ldg_strerror(rc));
        return rc;
    }
    return app_seal_store(t, o->seal_seq, &s);
}

/* Gives p (about to be stored as seq) its place in its key's seal of this
 * commit: *slot gets the seal's index in ss. */
int
app_seal_place(struct seal_set *ss, struct ldg_txn *t, struct ldg_prep *p,
               uint64_t seq, size_t *slot)
{
    struct open_seal *o = NULL;
    size_t i;
    int rc;

    for (i = 0; i < ss->n; i++)
        if (ss->s[i].key == p->signer) {
            o = &ss->s[i];
            break;
        }
    if (o != NULL && o->acc.count == LDG_SEAL_EVENTS_MAX) {
        /* a seal covers at most LDG_SEAL_EVENTS_MAX: close it here and
         * go on in a new one */
        if ((rc = seal_close_one(t, o)) < 0)
            return rc;
        o->first += o->acc.count;
        o->seal_seq = seq;
        ldg_seal_acc_init(&o->acc);
    }
    if (o == NULL) {
        if (ss->n == ss->cap) {
            size_t cap = ss->cap ? ss->cap * 2 : 4;
            struct open_seal *ns = realloc(ss->s, cap * sizeof *ns);
            if (ns == NULL)
                return LDG_ENOMEM;
            ss->s = ns;
            ss->cap = cap;
        }
        o = &ss->s[ss->n];
        o->key = p->signer;
        o->seal_seq = seq;
        if ((rc = ldg_key_sealed(t, p->signer->key_id, &o->first)) < 0)
            return rc;
        ldg_seal_acc_init(&o->acc);
        i = ss->n++;
    }
    p->seal_seq = o->seal_seq;
    p->seal_leaf = o->acc.count;
    *slot = i;
    return 0;
}

/* Closes key_id's open seal in ss, if any (a client's sealed batch of
 * that key comes next: a key's seals never interleave). */
int
app_seal_close_key(struct seal_set *ss, struct ldg_txn *t, const char *key_id)
{
    for (size_t i = 0; i < ss->n; i++)
        if (strcmp(ss->s[i].key->key_id, key_id) == 0) {
            int rc = seal_close_one(t, &ss->s[i]);
            ss->s[i] = ss->s[--ss->n];
            return rc;
        }
    return 0;
}

/* Seals every open seal of the commit. */
int
app_seal_set_close(struct seal_set *ss, struct ldg_txn *t)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < ss->n; i++)
        rc = seal_close_one(t, &ss->s[i]);
    ss->n = 0;
    return rc;
}

/* ------------------------------------------------------ intake frames -- */

/* Adds to frame what a commit of k events from seq first stored besides
 * them: the seals that opened in it (keyed by their first event, which
 * is in the commit) and the checkpoint of its new size. */
int
app_frame_seals(struct ldg_txn *t, struct ldg_intake_build *frame,
                uint64_t first, uint64_t k)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_cursor *c = NULL;
    struct ldg_val key, v;
    uint8_t kb[8];
    int rc = 0;

    ldg_be64(kb, first);
    if (l->format >= 2) {
        if ((rc = ldg_cursor_open(t, ldg_core(l, LDG_DB_SEALS), &c)) < 0)
            return rc;
        for (rc = ldg_cursor_get(c, LDG_SET_RANGE, kb, 8, &key, &v); rc == 0;
             rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &key, &v)) {
            uint64_t at;
            if (key.len != 8 || (at = ldg_rd_be64(key.data)) >= first + k)
                break;
            if ((rc = ldg_intake_build_seal(frame, at, v.data, v.len)) < 0)
                break;
        }
        ldg_cursor_close(c);
        if (rc < 0 && rc != LDG_ENOTFOUND)
            return rc;
    }
    return 0;
}

int
app_frame_close(struct ldg_txn *t, struct ldg_intake_build *frame,
                uint64_t first, uint64_t k)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_val v;
    uint8_t kb[8];
    int rc;

    /* (events filled it up to its limit, at most: the closing records
     * have room past it) */
    if (frame->max <= SIZE_MAX - LDG_INTAKE_CLOSE_ROOM)
        frame->max += LDG_INTAKE_CLOSE_ROOM;
    if ((rc = app_frame_seals(t, frame, first, k)) < 0)
        return rc;
    ldg_be64(kb, first + k);
    if ((rc = ldg_kv_get(t, ldg_core(l, LDG_DB_CHECKPOINTS), kb, 8, &v)) ==
        LDG_ENOTFOUND)
        return 0; /* (LDG_BENCH_NOTREE: none) */
    if (rc < 0)
        return rc;
    return ldg_intake_build_checkpoint(frame, v.data, v.len);
}

static int
frame_bad(struct ldg_ledger *l, const struct ldg_intake_frame *f,
          const char *what, uint64_t seq)
{
    ldg_seterr(l,
               "storage corrupt: the intake frame of lap %u from event %llu "
               "does not follow the log: %s (event %llu)",
               (unsigned)f->gen, (unsigned long long)f->first_seq, what,
               (unsigned long long)seq);
    return LDG_ECORRUPT;
}

/* One EVENT record of f as event seq. */
static int
apply_event(struct ldg_txn *t, const struct ldg_intake_frame *f,
            const struct ldg_intake_rec *r, uint64_t seq)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_event ev;
    struct ldg_body_rec br;
    json_t *body = NULL;
    uint64_t target = 0;
    uint8_t prev[32];
    int rc, erase = 0;

    if (ldg_event_decode(r->p, r->len, &ev) < 0)
        return frame_bad(l, f, "an entry does not decode", seq);
    if (ev.seq != seq)
        return frame_bad(l, f, "an entry of another seq", seq);
    if (seq > 0) {
        if ((rc = ldg_tree_stored_hash(t, 0, seq - 1, prev)) < 0)
            return rc == LDG_ENOTFOUND
                       ? frame_bad(l, f, "no event before it", seq)
                       : rc;
        if (memcmp(prev, ev.prev, 32) != 0)
            return frame_bad(l, f, "its prev is not the last leaf", seq);
    }
    memset(&br, 0, sizeof br);
    br.rec = (uint8_t *)(uintptr_t)r->b;
    br.rec_len = r->blen;
    memcpy(br.root, ev.body_root, 32);
    if (strcmp(ev.type, LDG_EV_BODY_ERASED) == 0) {
        json_int_t tgt;
        if (ldg_body_decode_json(ldg_txn_dicts(t), r->b, r->blen,
                                 l->opts.body_max_bytes, &body) < 0)
            return frame_bad(l, f, "an erasure's body does not decode", seq);
        tgt = json_integer_value(json_object_get(body, "target_seq"));
        if (tgt < 0 || (uint64_t)tgt >= seq) {
            json_decref(body);
            return frame_bad(l, f, "an erasure of no earlier event", seq);
        }
        target = (uint64_t)tgt;
        erase = 1;
        {
            struct ldg_val v;
            uint8_t k[8];
            ldg_be64(k, target);
            /* erased already (an erasure applied twice): nothing to do */
            if (ldg_kv_get(t, ldg_core(l, ldg_db_bodies(t)), k, 8, &v) != 0)
                erase = 0;
        }
    }
    rc = store_event(t, &ev, &br, body, erase, target);
    json_decref(body);
    return rc;
}

int
ldg_intake_apply_frame(struct ldg_txn *t, const struct ldg_intake_frame *f)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_intake_rec r;
    uint64_t size, seq = f->first_seq;
    const uint8_t *note = NULL;
    size_t off = 0, note_len = 0;
    int rc;

    if ((rc = ldg_txn_size(t, &size)) < 0)
        return rc;
    if (size != f->first_seq)
        return frame_bad(l, f, "it does not start where the log ends", size);
    while (ldg_intake_rec_next(f, &off, &r) == 1) {
        uint8_t k[8];
        struct ldg_val v;
        switch (r.kind) {
        case LDG_IREC_DICT: {
            uint8_t id = (uint8_t)r.id;
            if (ldg_kv_get(t, ldg_core(l, LDG_DB_DICTS), &id, 1, &v) == 0)
                break; /* never changed once stored */
            rc = ldg_core_kv_put(t, ldg_core(l, LDG_DB_DICTS), &id, 1, r.p,
                                 r.len);
            break;
        }
        case LDG_IREC_EVENT:
            rc = apply_event(t, f, &r, seq++);
            break;
        case LDG_IREC_SEAL: {
            struct ldg_seal s;
            if (ldg_seal_record_decode(r.p, r.len, &s) < 0 ||
                r.seq < f->first_seq || r.seq >= seq)
                return frame_bad(l, f,
                                 "a seal that does not decode, or of "
                                 "events not in the frame",
                                 r.seq);
            ldg_be64(k, r.seq);
            if (ldg_kv_get(t, ldg_core(l, LDG_DB_SEALS), k, 8, &v) == 0)
                return frame_bad(l, f, "a seal over a stored one", r.seq);
            rc =
                ldg_core_kv_put(t, ldg_core(l, LDG_DB_SEALS), k, 8, r.p, r.len);
            if (rc == 0)
                rc = ldg_keys_sealed_put(t, s.key_id, s.first + s.count);
            if (rc == 0)
                rc = ldg_epoch_seal_stored(t, r.seq, &s, 1);
            break;
        }
        case LDG_IREC_CHECKPOINT: {
            uint64_t at = 0;
            /* (its signature: verify's, as every checkpoint's) */
            rc = ldg_checkpoint_check_root(t, (const char *)r.p, r.len, &at);
            if (rc == 0 && at != seq)
                rc = LDG_ETAMPER;
            if (rc == LDG_EBADINPUT || rc == LDG_ETAMPER || rc == LDG_ENOTFOUND)
                return frame_bad(l, f,
                                 "its checkpoint does not name the tree "
                                 "it makes",
                                 seq);
            ldg_be64(k, seq);
            if (rc == 0)
                rc = ldg_core_kv_put(t, ldg_core(l, LDG_DB_CHECKPOINTS), k, 8,
                                     r.p, r.len);
            break;
        }
        case LDG_IREC_NOTE: /* the appliers' (at_commit, below) */
            note = r.p;
            note_len = r.len;
            break;
        }
        if (rc < 0)
            return rc;
    }
    LDG_ASSERT(seq == f->first_seq + f->count);
    ldg_txn_frame_applied(t, f->first_seq, seq);
    ldg_txn_set_carried(t, seq, note, note_len);
    for (size_t i = 0; rc == 0 && i < l->nappliers; i++)
        if (l->appliers[i].at_commit != NULL)
            rc = l->appliers[i].at_commit(l->appliers[i].ctx, t, seq);
    ldg_txn_set_carried(t, 0, NULL, 0);
    return rc;
}

int
ldg_txn_note_carry(struct ldg_txn *t, uint64_t size, const char *note,
                   size_t len)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    uint64_t at = 0;
    if (l->frame == NULL || l->frame_txn != t)
        return 0; /* not an ack group's */
    /* (the frame's checkpoint is of this size) */
    if (ldg_txn_size(t, &at) < 0 || at != size) {
        ldg_seterr(l, "a note of log size %llu for a frame of size %llu",
                   (unsigned long long)size, (unsigned long long)at);
        return LDG_EINVAL;
    }
    return ldg_intake_build_note(l->frame, note, len);
}

/*
 * Commits preps[0..n) as one transaction (steps 2-8). Retries after
 * growing the map when it is full. On success the events are durable.
 */
int
ldg_commit_group(struct ldg_ledger *l, struct ldg_prep *preps, size_t n,
                 uint64_t *first_seq)
{
    return ldg_commit_group_n(l, preps, n, first_seq, NULL);
}

int
ldg_commit_group_n(struct ldg_ledger *l, struct ldg_prep *preps, size_t n,
                   uint64_t *first_seq, uint64_t *stored)
{
    struct ldg_prep_span one = {preps, n};
    return ldg_commit_spans(l, &one, 1, first_seq, stored);
}

/* How a commit reaches the store: an LMDB transaction (layouts 1 to 8,
 * or layout 9's groups too big for a frame, the tail applied first), or
 * an intake frame (layout 9). */
enum commit_via { VIA_LMDB, VIA_LMDB_INTAKE, VIA_FRAME };

static int commit_spans_via(struct ldg_ledger *l,
                            const struct ldg_prep_span *spans, size_t nspans,
                            uint64_t *first_seq, uint64_t *stored,
                            enum commit_via via);

/*
 * Layout 9: under the intake's exclusive lock, the group is made in an
 * overlay over the store with the unapplied tail replayed (so its checks
 * see every acknowledged event) and acknowledged by its frame's flush;
 * a group whose frame would pass the frame limit goes to LMDB itself once
 * the tail is applied.
 */
static int
spans_erase(const struct ldg_prep_span *spans, size_t nspans)
{
    for (size_t j = 0; j < nspans; j++)
        for (size_t i = 0; i < spans[j].n; i++)
            if (strcmp(spans[j].p[i].type, LDG_EV_BODY_ERASED) == 0)
                return 1;
    return 0;
}

/* The bytes the spans' events take in a frame, their entries and body
 * records (less their records' few bytes of framing). */
static size_t
spans_bytes(const struct ldg_prep_span *spans, size_t nspans)
{
    size_t n = 0;
    for (size_t i = 0; i < nspans; i++)
        for (size_t j = 0; j < spans[i].n; j++)
            n += ldg_prep_frame_bytes(&spans[i].p[j]);
    return n;
}

int
ldg_commit_spans(struct ldg_ledger *l, const struct ldg_prep_span *spans,
                 size_t nspans, uint64_t *first_seq, uint64_t *stored)
{
    int fd, rc;

    if (l->intake == NULL)
        return commit_spans_via(l, spans, nspans, first_seq, stored, VIA_LMDB);
    if ((fd = ldg_intake_lock_ex(l)) < 0)
        return fd;
    if (spans_erase(spans, nspans)) {
        /* an erasure leaves no copy of the body in the intake, and goes to
         * LMDB itself, which deletes the record at once (as at layout 8) */
        rc = ldg_intake_scrub(l, 1);
        if (rc == 0)
            rc = commit_spans_via(l, spans, nspans, first_seq, stored,
                                  VIA_LMDB_INTAKE);
        ldg_intake_unlock_ex(l, fd);
        return rc;
    }
    /* a group whose events alone pass a frame's limit goes to LMDB at
     * once, not stored in a frame until it is full and then again */
    rc = spans_bytes(spans, nspans) > LDG_INTAKE_FRAME_MAX
             ? LDG_ETOOBIG
             : commit_spans_via(l, spans, nspans, first_seq, stored, VIA_FRAME);
    if (rc == LDG_ETOOBIG && ldg_errbuf(l)[0] == '\0') /* (the frame's limit) */
        rc = commit_spans_via(l, spans, nspans, first_seq, stored,
                              VIA_LMDB_INTAKE);
    ldg_intake_unlock_ex(l, fd);
    return rc;
}

static int
commit_spans_via(struct ldg_ledger *l, const struct ldg_prep_span *spans,
                 size_t nspans, uint64_t *first_seq, uint64_t *stored,
                 enum commit_via via)
{
    size_t n = 0;
    struct ldg_txn *t = NULL;
    struct tail tl;
    struct seal_set ss = {0};
    struct ldg_intake_ack ia;
    uint8_t prev[32];
    uint64_t k = 0; /* events stored so far in this try */
    int rc, tries = 0;

    memset(&ia, 0, sizeof ia);
    if (stored != NULL)
        *stored = 0;
    for (size_t j = 0; j < nspans; j++)
        n += spans[j].n;
    if (n == 0)
        return 0;
again:
    k = 0;
    ss.n = 0;
    ldg_errbuf(l)[0] = '\0';
    if (via == VIA_FRAME) {
        ldg_intake_ack_release(&ia);
        rc = ldg_intake_ack_begin(l, &ia, &t);
        l->frame = &ia.frame;
        l->frame_txn = t;
    } else {
        rc = ldg_txn_begin(l, LDG_TXN_WRITE, &t);
    }
    if (rc < 0) {
        l->frame = NULL;
        if (ldg_errbuf(l)[0] == '\0')
            ldg_seterr(l, "cannot begin a write transaction: %s",
                       ldg_strerror(rc));
        return rc;
    }
    if ((rc = app_read_tail(t, &tl)) < 0)
        goto fail;
    memcpy(prev, tl.leaf, 32);
    if (l->frame != NULL) /* (a try again starts it over) */
        ldg_intake_build_reset(l->frame, tl.size);
    for (size_t j = 0; j < nspans; j++) {
        for (size_t i = 0; i < spans[j].n; i++) {
            uint64_t seq = tl.size + k;
            uint64_t min_ts = (seq == 0) ? 0 : tl.ts + 1;
            struct ldg_prep *p = &spans[j].p[i];
            if (p->rc < 0) {
                rc = p->rc;
                goto fail;
            }
            /* its id is in the log (or earlier in this group): not appended
             * again; the caller learns the seq from p */
            if ((rc = find_dup(t, p)) > 0)
                continue;
            if (rc < 0)
                goto fail;
            /* A stamp made ahead of time holds if the log is where we thought
             * and time still moves forward; otherwise stamp and sign again. */
            if (!p->signed_ok || p->seq != seq || p->ts < min_ts) {
                uint64_t now = ldg_clock_now(l);
                rc = ldg_prep_sign(l, p, seq, now > min_ts ? now : min_ts);
                if (rc < 0)
                    goto fail;
            }
            tl.ts = p->ts;
            if (l->format >= 2) {
                size_t slot;
                if ((rc = app_seal_place(&ss, t, p, seq, &slot)) < 0 ||
                    (rc = store_one(t, p, prev, prev)) < 0)
                    goto fail;
                ldg_seal_acc_add(&ss.s[slot].acc, p->digest);
            } else if ((rc = store_one(t, p, prev, prev)) < 0) {
                goto fail;
            }
            k++;
            /* The leaf pages this group's puts read through the map were
             * copied into dirty pages: drop the mapped ones now and then
             * (they are page cache; LMDB never writes through the map, so
             * a page read again faults back the same bytes), or a group
             * of 8,000 events holds both copies of ~2,600 pages at once
             * in the resident size. */
            if ((k & (TRIM_EVERY - 1)) == 0)
                ldg_store_trim(l->store);
        }
    }
    if (k == 0) { /* every event was already there: nothing to commit */
        if (via == VIA_FRAME)
            ldg_intake_ack_end(l, &ia, t, 1);
        else
            ldg_txn_abort(t);
        app_seal_set_release(&ss);
        if (via == VIA_FRAME) {
            l->frame = NULL;
            ldg_intake_ack_release(&ia);
        }
        if (first_seq != NULL)
            *first_seq = tl.size;
        return 0;
    }
    if ((rc = app_seal_set_close(&ss, t)) < 0)
        goto fail;
    if (!(l->opts.flags & LDG_BENCH_NOTREE) &&
        (rc = ldg_checkpoint_put(t, tl.size + k)) < 0)
        goto fail;
    if (l->frame != NULL && (rc = app_frame_close(t, l->frame, tl.size, k)) < 0)
        goto fail;
    for (size_t i = 0; i < l->nappliers; i++) {
        if (l->appliers[i].at_commit == NULL)
            continue;
        rc = l->appliers[i].at_commit(l->appliers[i].ctx, t, tl.size + k);
        if (rc < 0)
            goto fail;
    }
    if (via == VIA_FRAME) {
        /* the ack: the frame written and flushed; the overlay goes */
        l->frame = NULL;
        rc = ldg_intake_ack_write(l, &ia);
        ldg_intake_ack_end(l, &ia, t, rc == 0);
    } else {
        if (via == VIA_LMDB_INTAKE &&
            (rc = ldg_intake_direct_pos(l, t, tl.size + k)) < 0)
            goto fail;
        rc = ldg_txn_commit(t);
    }
    t = NULL;
    if (rc < 0)
        goto fail;
    app_seal_set_release(&ss);
    /* (a dictionary is trained from the store's last events: at layout
     * 9, once they are applied) */
    if (via != VIA_FRAME || ia.settled)
        ldg_dict_after_commit(l, tl.size + k);
    ldg_intake_ack_release(&ia);
    if (first_seq != NULL)
        *first_seq = tl.size;
    if (stored != NULL)
        *stored = k;
    return 0;
fail:
    if (via == VIA_FRAME)
        ldg_intake_ack_end(l, &ia, t, 0);
    else
        ldg_txn_abort(t);
    t = NULL;
    if (via == VIA_FRAME) {
        l->frame = NULL;
        if (rc == LDG_ETOOBIG && ia.frame.full) {
            /* too big for a frame: the caller goes to LMDB (errmsg
             * empty says it is this) */
            app_seal_set_release(&ss);
            ldg_intake_ack_release(&ia);
            ldg_errbuf(l)[0] = '\0';
            return rc;
        }
    }
    if (rc != LDG_EFULL)
        app_seal_set_release(&ss);
    if (rc == LDG_EFULL) {
        char why[256];
        why[0] = '\0';
        if (tries++ < GROW_RETRIES &&
            ldg_store_grow(l->store, why, sizeof why) == 0)
            goto again;
        ldg_seterr(l, "%s; nothing of this group of %zu event%s was written",
                   why[0] ? why : "storage full", n, n == 1 ? "" : "s");
    } else if (ldg_errbuf(l)[0] == '\0')
        ldg_seterr(l, "append failed: %s", ldg_strerror(rc));
    app_seal_set_release(&ss);
    ldg_intake_ack_release(&ia);
    return rc;
}

int
ldg_append(struct ldg_ledger *l, const struct ldg_event_in *ev,
           uint64_t *seq_out)
{
    return ldg_append_ex(l, ev, seq_out, NULL);
}

int
ldg_append_ex(struct ldg_ledger *l, const struct ldg_event_in *ev,
              uint64_t *seq_out, unsigned *differs)
{
    struct ldg_prep p;
    uint64_t first;
    int rc;

    if (differs != NULL)
        *differs = 0;
    if (l == NULL || ev == NULL)
        return LDG_EINVAL;
    if (l->opts.flags & LDG_RDONLY) {
        ldg_seterr(l, "ledger opened read-only");
        return LDG_EINVAL;
    }
    l->errmsg[0] = '\0';
    if ((rc = ldg_log_secret_load(l)) < 0)
        return rc;
    rc = ldg_prep_init(l, &p, ev);
    if (rc == 0)
        rc = ldg_commit_group(l, &p, 1, &first);
    if (rc == 0 && p.dup) {
        first = p.dup_seq;
        dup_message(l, &p);
        if (differs != NULL)
            *differs = p.dup_differs;
        rc = LDG_EDUPLICATE;
    }
    if ((rc == 0 || rc == LDG_EDUPLICATE) && seq_out != NULL)
        *seq_out = first;
    ldg_prep_release(&p);
    return rc;
}
