/*
 * verify_bodies.c — every stored body against the commitment in its
 * entry; the checks that wait for every body.erased to be known (a
 * missing body must be erased, an erased one must be gone).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/tlog_int.h"
#include "ledger/verify_int.h"

const char vf_msg_nobody[] = "body is missing and no body.erased names it";
const char vf_msg_still[] =
    "body was erased by a body.erased event but is still stored";

/* Checks the body of ev against its commitment. Returns 0, or 1 if bad
 * (reported). With defer (pass 2), the erasure set is not complete yet:
 * a missing body is noted for later and a present one is only checked
 * against its commitment. With s (pass 2), the payload is opened
 * (inflated) into s; with bv too, bv is made a view of its fields from
 * the walk the commitment took, and on 0 *viewed says what bv holds: 1 a
 * view, 0 none (a body a view cannot hold), -1 no body. */
int
vf_check_body_pl(struct vstate *vs, const struct ldg_event *ev, int defer,
                 int rc, struct ldg_val v, struct ldg_inflate *s,
                 struct ldg_body_view *bv, int *viewed)
{
    uint8_t root[32];
    struct ldg_payload pl;

    if (viewed != NULL)
        *viewed = -1;
    if (rc == LDG_ENOTFOUND && defer) {
        pthread_mutex_lock(&vs->mu);
        if (vs->nmissing == vs->capmissing) {
            size_t cap = vs->capmissing ? vs->capmissing * 2 : 64;
            uint64_t *m = realloc(vs->missing, cap * sizeof *m);
            if (m == NULL) {
                vs->io_rc = ldg_alloc_failed();
                pthread_mutex_unlock(&vs->mu);
                return 1;
            }
            vs->missing = m;
            vs->capmissing = cap;
        }
        vs->missing[vs->nmissing++] = ev->seq;
        pthread_mutex_unlock(&vs->mu);
        return 0;
    }
    if (rc == LDG_ENOTFOUND) {
        if (vf_is_erased(vs, ev->seq))
            return 0;
        vf_bad(vs, ev->seq, vf_msg_nobody);
        return 1;
    }
    if (rc < 0) {
        vf_bad(vs, ev->seq, "cannot read body: %s", vf_strerror(rc));
        return 1;
    }
    if (!defer && vf_is_erased(vs, ev->seq)) {
        vf_bad(vs, ev->seq, vf_msg_still);
        return 1;
    }
    if (s == NULL) {
        rc = ldg_body_rec_root(vs->dicts, v.data, v.len,
                               vs->l->opts.body_max_bytes, root);
    } else if ((rc = ldg_body_payload(vs->dicts, v.data, v.len,
                                      vs->l->opts.body_max_bytes, s, &pl)) ==
               0) {
        rc = ldg_body_payload_root(&pl, root, bv, viewed);
    }
    if (rc < 0) {
        vf_bad(vs, ev->seq, "stored body does not decode (%s)",
               vf_strerror(rc));
        return 1;
    }
    if (memcmp(root, ev->body_root, 32) != 0) {
        vf_bad(vs, ev->seq, "body does not match its commitment in the entry");
        return 1;
    }
    return 0;
}

static int
vf_check_body_val(struct vstate *vs, const struct ldg_event *ev, int defer,
                  int rc, struct ldg_val v)
{
    return vf_check_body_pl(vs, ev, defer, rc, v, NULL, NULL, NULL);
}

/* check_body_val with the body read here (rc and v: what the get of
 * ev's body gave). */
int
vf_check_body(struct vstate *vs, struct ldg_txn *t, const struct ldg_event *ev,
              int defer)
{
    struct ldg_val v = {NULL, 0};
    uint8_t k[8];
    int rc;

    ldg_be64(k, ev->seq);
    rc = ldg_kv_get(t, ldg_store_core_dbi(ldg_txn_store(t), ldg_db_bodies(t)),
                    k, 8, &v);
    return vf_check_body_val(vs, ev, defer, rc, v);
}

/* The body checks pass 2 left for when every body.erased is known: a
 * missing body must be erased, an erased one must be gone. Only events
 * pass 2 looked at count, as before the passes overlapped. */
/* Does a body.erased at or after from name target? Pass 1 stopped at from
 * (a bad event), so these erasures are unverified; they are only consulted
 * so that a body one of them erased is not reported as missing ahead of
 * the real first finding. Found through the type index. */
struct erased_ctx {
    struct ldg_txn *t;
    uint64_t target;
    int found;
};

static int
erased_one(void *arg, uint64_t seq)
{
    struct erased_ctx *x = arg;
    json_t *body = NULL;
    if (ldg_body_get(x->t, seq, &body) == 0) {
        json_t *tg = json_object_get(body, "target_seq");
        x->found = json_is_integer(tg) && json_integer_value(tg) >= 0 &&
                   (uint64_t)json_integer_value(tg) == x->target;
        json_decref(body);
    }
    return x->found;
}

static int
erased_after(struct ldg_txn *t, uint64_t from, uint64_t target)
{
    struct erased_ctx x = {t, target, 0};
    (void)ldg_index_walk(t, LDG_INDEX_TYPE, LDG_EV_BODY_ERASED, from,
                         UINT64_MAX, 0, erased_one, &x);
    return x.found;
}

void
vf_deferred_body_checks(struct vstate *vs, struct ldg_txn *t)
{
    uint64_t end = vs->next < vs->to ? vs->next : vs->to;

    if (vs->nmissing > 1)
        qsort(vs->missing, vs->nmissing, sizeof *vs->missing, vf_cmp_u64);
    for (size_t i = 0; i < vs->nmissing; i++) {
        uint64_t m = vs->missing[i];
        if (vf_is_erased(vs, m) ||
            (vs->p1_done < vs->to && erased_after(t, vs->p1_done, m)))
            continue;
        vf_bad(vs, m, vf_msg_nobody);
        break;
    }
    for (size_t i = 0; i < vs->nerased; i++) {
        uint64_t seq = vs->erased[i];
        struct ldg_val v;
        uint8_t k[8];
        if (seq >= end || seq >= vs->bad_seq)
            continue;
        ldg_be64(k, seq);
        if (ldg_kv_get(t,
                       ldg_store_core_dbi(ldg_txn_store(t), ldg_db_bodies(t)),
                       k, 8, &v) == 0) {
            vf_bad(vs, seq, vf_msg_still);
            break;
        }
    }
}
