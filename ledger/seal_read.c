/*
 * seal_read.c — reading seals back (format version 2): the stored seal of
 * an event and the proof that attributes one event to it (FORMAT.md
 * section 3.3), for evidence bundles and their verifiers.
 */
#include <stdlib.h>
#include <string.h>

#include "ledger/handle_int.h"

int
ldg_seal_get(struct ldg_txn *t, uint64_t seal_seq, struct ldg_seal *out)
{
    struct ldg_store *s;
    struct ldg_val v;
    uint8_t k[LDG_SEQ_KEY_LEN];
    int rc;

    if (t == NULL || out == NULL)
        return LDG_EINVAL;
    s = ldg_txn_store(t);
    if (!ldg_store_has_core(s, LDG_DB_SEALS))
        return LDG_ENOTFOUND;
    ldg_be64(k, seal_seq);
    rc = ldg_kv_get(t, ldg_store_core_dbi(s, LDG_DB_SEALS), k, LDG_SEQ_KEY_LEN,
                    &v);
    if (rc < 0)
        return rc;
    return ldg_seal_record_decode(v.data, v.len, out);
}

int
ldg_seal_proof(struct ldg_txn *t, uint64_t seq, struct ldg_seal_proof *out)
{
    struct ldg_event ev;
    uint8_t(*d)[32] = NULL;
    uint64_t size = 0, got = 0;
    int rc;

    if (t == NULL || out == NULL)
        return LDG_EINVAL;
    memset(out, 0, sizeof *out);
    if ((rc = ldg_event_get(t, seq, &ev)) < 0)
        return rc;
    if (!ev.sealed)
        return LDG_ENOTFOUND; /* a format 1 entry: signed, not sealed */
    if ((rc = ldg_seal_get(t, ev.seal_seq, &out->seal)) < 0)
        return rc == LDG_ENOTFOUND ? LDG_ECORRUPT : rc;
    if ((rc = ldg_txn_size(t, &size)) < 0)
        return rc;
    d = malloc((size_t)out->seal.count * 32);
    if (d == NULL)
        return LDG_ENOMEM;
    for (uint64_t at = ev.seal_seq; got < out->seal.count && at < size; at++) {
        struct ldg_event e;
        if ((rc = ldg_event_get_ex(t, at, &e, LDG_DECODE_TRUSTED)) < 0)
            goto out;
        if (!e.sealed || e.seal_seq != ev.seal_seq)
            continue;
        if (e.seal_leaf != got) {
            rc = LDG_ECORRUPT;
            goto out;
        }
        memcpy(d[got++], e.digest, 32);
    }
    if (got != out->seal.count || ev.seal_leaf >= got) {
        rc = LDG_ECORRUPT;
        goto out;
    }
    out->seal_seq = ev.seal_seq;
    out->leaf = ev.seal_leaf;
    memcpy(out->digest, ev.digest, 32);
    rc = ldg_seal_inclusion((const uint8_t(*)[32])d, (size_t)got,
                            (size_t)ev.seal_leaf, out->path, &out->n);
out:
    free(d);
    return rc;
}
