/*
 * verify_new.c — verifying what is new since the last recorded
 * verification (ldg_doctor_verify_new, doctor.h), so that the doctor's
 * chain-verified clause follows a busy box instead of saying "unknown"
 * after every write.
 *
 * `ledger verify` checks the whole log every time (a plain run re-checks
 * the entries, chain, tree and every body from event 0; only signatures
 * and indexes start at the saved position): its cost grows with the log.
 * This check costs what the new events cost. From the verified position
 * (size S and the tree root R the core saved, ldg_verify_state) to the
 * log's size N:
 *
 *   1. the stored tree still has root R at size S (the verified part was
 *      not rewritten), and its root at N is consistent with R (an RFC 6962
 *      consistency proof from the stored tree, checked);
 *   2. each event S..N-1 is vouched for as export vouches for evidence
 *      (ldg_vouch_events): canonical entry, the stored tree's leaf, the
 *      link to the previous leaf, a key valid at that event, its signature
 *      or seal, the body against its commitment (or its erasure);
 *   3. timestamps never decrease from S-1 on;
 *   4. each checkpoint stored for a size in S+1..N is signed by the log
 *      key, for this log, with the stored tree's root at its size (one
 *      signature a commit: what `ledger checkpoint` hands out), and, once
 *      the log key seals with epoch keys, by the epoch key its seals lead
 *      to (its second signature line).
 *
 * What it leaves to `ledger verify`: the indexes of the new events, the
 * checkpoints of sizes up to S, and anything before S (a full verification is
 * the only check of old signatures; a plain one of old bodies). The result is
 * recorded as a plain run's (the verified position moves to N with its
 * root; a failure becomes a standing finding), so `ledger verify` after
 * it starts its signatures at N, as after any plain run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "doctor/doctor.h"
#include "ledger/module.h"
#include "util/util.h"

static int
found(struct ldg_verify_report *r, uint64_t seq, const char *what)
{
    r->bad_seq = seq;
    r->found_ts_ns = ldg_now_wall_ns();
    snprintf(r->what, sizeof r->what, "%s", what);
    return LDG_ETAMPER;
}

/* Step 4b: the epoch lines of the checkpoints of sizes at[n-1] .. at[0]
 * (newest first in at; checked oldest first, on one walk of the log
 * key's seals): each by the epoch key the log key's seals lead to. */
static int
check_checkpoint_epochs(struct ldg_txn *t, const uint64_t *at, size_t n,
                        struct ldg_verify_report *r)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_epoch_walk *w = NULL;
    char why[500];
    int rc = 0;

    if (n > 0 && (rc = ldg_epoch_walk_new(l, &w)) < 0)
        return rc;
    for (size_t i = n; i-- > 0 && rc >= 0;) {
        char *note = NULL;
        if ((rc = ldg_checkpoint_get(t, at[i], &note)) < 0)
            break;
        rc = ldg_epoch_walk_checkpoint(w, t, at[i], note, strlen(note));
        free(note);
        if (rc == LDG_ETAMPER || rc == LDG_ECORRUPT) {
            snprintf(why, sizeof why,
                     "the stored checkpoint of size %llu: %.440s",
                     (unsigned long long)at[i], ldg_errmsg(l));
            rc = found(r, at[i] - 1, why);
        }
    }
    ldg_epoch_walk_free(w);
    return rc < 0 ? rc : 0;
}

/* Step 4: the checkpoints of sizes from..to (from > 0), newest first,
 * then their epoch lines. */
static int
check_checkpoints(struct ldg_txn *t, uint64_t from, uint64_t to,
                  struct ldg_verify_report *r)
{
    char why[256];
    uint64_t s = to, size = 0, *at = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;

    while (s >= from) {
        char *note = NULL;
        uint64_t a;
        rc = ldg_checkpoint_floor(t, s, &a);
        if (rc == LDG_ENOTFOUND || (rc == 0 && a < from)) {
            rc = 0;
            break;
        }
        if (rc < 0) /* (a key that does not decode: storage corrupt) */
            break;
        rc = ldg_checkpoint_get(t, a, &note);
        if (rc < 0 && rc != LDG_ECORRUPT)
            break;
        if (rc == 0)
            rc = ldg_checkpoint_check_key(t, note, strlen(note), &size);
        free(note);
        if (rc < 0 && rc != LDG_EBADSIG && rc != LDG_EBADINPUT &&
            rc != LDG_ETAMPER && rc != LDG_ECORRUPT && rc != LDG_ENOTFOUND)
            break;
        if (rc < 0 || size != a) {
            snprintf(why, sizeof why, "the stored checkpoint of size %llu %s",
                     (unsigned long long)a,
                     rc == LDG_EBADSIG   ? "does not verify with the log key"
                     : rc == LDG_ETAMPER ? "has another root than the stored "
                                           "tree"
                     : rc < 0            ? "does not decode"
                                         : "names another size");
            rc = found(r, a - 1, why);
            break;
        }
        if (n == cap) {
            uint64_t *m = realloc(at, (cap = cap ? 2 * cap : 64) * sizeof *m);
            if (m == NULL) {
                rc = LDG_ENOMEM;
                break;
            }
            at = m;
        }
        at[n++] = a;
        if (a == 0)
            break;
        s = a - 1;
    }
    if (rc == 0)
        rc = check_checkpoint_epochs(t, at, n, r);
    free(at);
    return rc;
}

/* Steps 1-4 above on one read snapshot; fills r (from, to, checked, root,
 * or bad_seq/what). 0, LDG_ETAMPER, LDG_EFULL (more than max_events new:
 * nothing checked), or an I/O code. */
static int
check_new(struct ldg_ledger *l, const struct ldg_verify_state *st,
          uint64_t max_events, struct ldg_verify_report *r)
{
    struct ldg_txn *t = NULL;
    struct ldg_vouch *v = NULL;
    uint8_t(*proof)[32] = NULL, old_root[32], root[32];
    uint64_t size = 0, *seqs = NULL, prev_ts = 0;
    size_t np = 0;
    char why[512];
    int rc;

    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
        return rc;
    if ((rc = ldg_txn_size(t, &size)) < 0)
        goto out;
    r->from = st->verified_size;
    r->to = size;
    if (size < st->verified_size) {
        snprintf(why, sizeof why,
                 "the log holds %llu events but %llu were verified: it was "
                 "cut short",
                 (unsigned long long)size,
                 (unsigned long long)st->verified_size);
        rc = found(r, size, why);
        goto out;
    }
    if (size - st->verified_size > max_events) {
        rc = LDG_EFULL;
        goto out;
    }
    /* 1. the verified part is as it was, and the tree grew from it */
    if (st->verified_size > 0) {
        if ((rc = ldg_tree_root(t, st->verified_size, old_root)) < 0)
            goto out;
        if (memcmp(old_root, st->verified_root, 32) != 0) {
            snprintf(why, sizeof why,
                     "the tree of the first %llu events no longer has the "
                     "root verified for them: the verified log was "
                     "rewritten",
                     (unsigned long long)st->verified_size);
            rc = found(r, st->verified_size - 1, why);
            goto out;
        }
    } else {
        ldg_sha256(old_root, "", 0);
    }
    if ((rc = ldg_tree_root(t, size, root)) < 0)
        goto out;
    if (size > st->verified_size && st->verified_size > 0) {
        proof = calloc(64, sizeof *proof);
        if (proof == NULL) {
            rc = LDG_ENOMEM;
            goto out;
        }
        if ((rc = ldg_tree_consistency(t, st->verified_size, size, proof,
                                       &np)) < 0)
            goto out;
        if (ldg_tlog_verify_consistency(st->verified_size, size, old_root, root,
                                        (const uint8_t(*)[32])proof, np) != 0) {
            snprintf(why, sizeof why,
                     "the tree at %llu events is not consistent with the "
                     "tree verified at %llu",
                     (unsigned long long)size,
                     (unsigned long long)st->verified_size);
            rc = found(r, st->verified_size, why);
            goto out;
        }
    }
    memcpy(r->root, root, 32);
    if (size == st->verified_size) {
        rc = 0;
        goto out;
    }
    /* 2. each new event as evidence; 3. time never goes back */
    seqs = malloc((size_t)(size - st->verified_size) * sizeof *seqs);
    if (seqs == NULL) {
        rc = LDG_ENOMEM;
        goto out;
    }
    for (uint64_t s = st->verified_size; s < size; s++)
        seqs[s - st->verified_size] = s;
    if ((rc = ldg_vouch_new(&v, t)) < 0)
        goto out;
    why[0] = '\0';
    rc = ldg_vouch_events(v, seqs, (size_t)(size - st->verified_size), 0, why,
                          sizeof why);
    if (rc == LDG_ETAMPER) {
        unsigned long long bad = st->verified_size;
        sscanf(why, "event %llu", &bad);
        rc = found(r, bad, why);
        goto out;
    }
    if (rc < 0)
        goto out;
    for (uint64_t s = st->verified_size ? st->verified_size - 1 : 0; s < size;
         s++) {
        struct ldg_event ev;
        if ((rc = ldg_event_get(t, s, &ev)) < 0) {
            if (rc != LDG_ECORRUPT && rc != LDG_ENOTFOUND)
                goto out;
            snprintf(why, sizeof why, "event %llu: does not decode",
                     (unsigned long long)s);
            rc = found(r, s, why);
            goto out;
        }
        if (s > st->verified_size - (st->verified_size > 0) &&
            ev.ts_ns < prev_ts) {
            snprintf(why, sizeof why,
                     "event %llu: its time is before the previous event's",
                     (unsigned long long)s);
            rc = found(r, s, why);
            goto out;
        }
        prev_ts = ev.ts_ns;
    }
    /* 4. the checkpoints the new events brought */
    if ((rc = check_checkpoints(t, st->verified_size + 1, size, r)) < 0)
        goto out;
    r->checked = size - st->verified_size;
    rc = 0;
out:
    ldg_vouch_free(v);
    free(seqs);
    free(proof);
    ldg_txn_abort(t);
    return rc;
}

int
ldg_doctor_verify_new(struct ldg_ledger *l, uint64_t max_events,
                      struct ldg_verify_report *r, char *err, size_t errcap)
{
    struct ldg_verify_state st;
    int rc, wrc;

    if (l == NULL || r == NULL)
        return LDG_EINVAL;
    memset(r, 0, sizeof *r);
    r->bad_seq = UINT64_MAX;
    if (err != NULL && errcap > 0)
        err[0] = '\0';
    if ((rc = ldg_verify_state(l, &st)) < 0)
        return rc;
    r->full_size = st.full_size;
    r->full_ts_ns = st.full_ts_ns;
    if (st.finding) {
        /* what was found stays found until a full verification passes */
        r->finding_stands = 1;
        r->bad_seq = st.finding_seq;
        r->found_ts_ns = st.finding_ts_ns;
        snprintf(r->what, sizeof r->what, "%s", st.finding_what);
        return LDG_ETAMPER;
    }
    rc = check_new(l, &st, max_events, r);
    if (rc < 0 && rc != LDG_ETAMPER)
        return rc;
    if (rc == 0 && r->checked == 0 && r->to == st.verified_size)
        return 0; /* nothing new: nothing to record */
    /* recorded as a plain run's result, through this handle when it may
     * write, else through a writable one (a read-only doctor) */
    wrc = ldg_verify_record(l, r);
    if (wrc == LDG_EINVAL)
        wrc = ldg_verify_record_dir(ldg_dir(l), NULL, r, err, errcap);
    else if (wrc < 0 && err != NULL)
        snprintf(err, errcap, "%s", ldg_errmsg(l));
    r->recorded = wrc == 0;
    return rc;
}
