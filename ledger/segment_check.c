/*
 * segment_check.c — a segment against the ledger it came from
 * (ldg_segment_check): its leaves, bodies, checkpoint and horizon are
 * this ledger's.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/codec_int.h"
#include "ledger/epoch_int.h"
#include "ledger/tree_int.h"
#include "ledger/mp_int.h"
#include "ledger/segment_int.h"
#include "ledger/tlog_int.h"

/* ------------------------------------------- checking against a ledger -- */

struct against {
    struct ldg_txn *t;
    uint64_t kept; /* the ledger's first kept event (its horizon) */
    uint64_t tile; /* the level-0 tile cached, UINT64_MAX: none */
    uint8_t hashes[LDG_TILE_BYTES];
    struct ldg_cursor *bodies;
    int bodies_ok;
    struct ldg_val bk, bv;
    const struct ldg_segment_verify_opts *user;
};

static int
against_leaf(void *ctx, uint64_t seq, const uint8_t leaf[32], int has_body,
             char *what)
{
    struct against *a = ctx;
    uint8_t stored[32];
    const uint8_t *h = NULL;
    int rc;

    if (seq / LDG_TILE_WIDTH != a->tile) {
        if ((seq / LDG_TILE_WIDTH & 0x3f) == 0) /* (every 16,384) */
            ldg_access_hint(ldg_txn_ledger(a->t), LDG_ACCESS_RELEASE);
        rc = ldg_tree_tile_get(a->t, 0, seq / LDG_TILE_WIDTH, a->hashes);
        a->tile = rc == 0 ? seq / LDG_TILE_WIDTH : UINT64_MAX;
    }
    if (a->tile == seq / LDG_TILE_WIDTH) {
        h = a->hashes + 32 * (seq % LDG_TILE_WIDTH);
    } else if ((rc = ldg_tree_stored_hash(a->t, 0, seq, stored)) == 0) {
        h = stored;
    } else {
        snprintf(what, 400,
                 "the ledger has no stored leaf hash for it (%s): is the "
                 "segment this ledger's?",
                 ldg_strerror(rc));
        return LDG_SEGCHK_TREE;
    }
    if (memcmp(h, leaf, 32) != 0) {
        snprintf(what, 400,
                 "its entry is not the one this ledger's tree holds (another "
                 "ledger's segment, or one changed since it was written)");
        return LDG_SEGCHK_TREE;
    }
    if (seq >= a->kept) {
        /* the body: held by the segment exactly when the ledger holds it */
        int held;
        while (a->bodies_ok && a->bk.len == 8 && ldg_rd_be64(a->bk.data) < seq)
            a->bodies_ok = ldg_cursor_get(a->bodies, LDG_NEXT, NULL, 0, &a->bk,
                                          &a->bv) == 0;
        held = a->bodies_ok && a->bk.len == 8 && ldg_rd_be64(a->bk.data) == seq;
        if (held != has_body) {
            snprintf(what, 400,
                     has_body
                         ? "the segment holds its body, which the ledger "
                           "erased since it was written (it would keep the "
                           "erased body: write the archive again)"
                         : "the segment has its body erased, which the "
                           "ledger holds");
            return LDG_SEGCHK_ERASURES;
        }
    }
    if (a->user != NULL && a->user->leaf != NULL)
        return a->user->leaf(a->user->ctx, seq, leaf, has_body, what);
    return 0;
}

int
ldg_segment_check(struct ldg_txn *t, int fd,
                  const struct ldg_segment_verify_opts *o,
                  struct ldg_segment_result *r)
{
    struct ldg_ledger *l;
    struct ldg_segment_verify_opts vo;
    struct against a;
    struct ldg_horizon hz;
    char vkey[512], *ck = NULL;
    uint8_t k[8];
    int rc, has_hz;

    if (t == NULL || fd < 0 || r == NULL)
        return LDG_EINVAL;
    l = ldg_txn_ledger(t);
    memset(&a, 0, sizeof a);
    memset(&hz, 0, sizeof hz);
    a.t = t;
    a.tile = UINT64_MAX;
    a.user = o;
    if ((rc = ldg_verifier_key(l, vkey, sizeof vkey)) < 0)
        return rc;
    rc = ldg_horizon_get(t, &hz);
    if (rc < 0 && rc != LDG_ENOTFOUND)
        return rc;
    has_hz = rc == 0;
    a.kept = has_hz ? hz.seq : 0;
    if ((rc = ldg_cursor_open(t, ldg_core(l, ldg_db_bodies(t)), &a.bodies)) < 0)
        goto out;
    ldg_be64(k, a.kept);
    a.bodies_ok =
        ldg_cursor_get(a.bodies, LDG_SET_RANGE, k, 8, &a.bk, &a.bv) == 0;
    if (o != NULL)
        vo = *o;
    else
        memset(&vo, 0, sizeof vo);
    vo.trusted_vkey = vkey;
    vo.leaf = against_leaf;
    vo.ctx = &a;
    rc = ldg_segment_verify_fd(fd, &vo, r);
    if (rc < 0)
        goto out;
    /* its checkpoint is this ledger's of that size, byte for byte */
    rc = ldg_checkpoint_get(t, r->info.checkpoint_size, &ck);
    if (rc == LDG_ENOTFOUND || (rc == 0 && strcmp(ck, r->info.checkpoint))) {
        r->ok = 0;
        r->failed = LDG_SEGCHK_CHECKPOINT;
        snprintf(r->what, sizeof r->what,
                 "its checkpoint of size %" PRIu64 " is not this ledger's%s",
                 r->info.checkpoint_size,
                 rc == LDG_ENOTFOUND
                     ? " (the ledger has no checkpoint of that size)"
                     : "");
        rc = LDG_ETAMPER;
        goto out;
    }
    if (rc < 0)
        goto out;
    /* the earlier prune's record it carries is the ledger's (when the
     * ledger's horizon is still there) */
    if (has_hz && hz.seq == r->info.first &&
        (r->info.horizon == NULL || r->info.horizon_len != hz.record_len ||
         memcmp(r->info.horizon, hz.record, hz.record_len) != 0)) {
        r->ok = 0;
        r->failed = LDG_SEGCHK_HORIZON;
        snprintf(r->what, sizeof r->what,
                 "it %s the ledger's horizon record at %" PRIu64,
                 r->info.horizon ? "carries another horizon record than"
                                 : "does not carry",
                 hz.seq);
        rc = LDG_ETAMPER;
    }
out:
    free(ck);
    ldg_cursor_close(a.bodies);
    ldg_horizon_release(&hz);
    return rc;
}
