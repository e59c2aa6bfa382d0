/*
 * verify.h — the whole verdict of `ledger verify`, for the program and for
 * any other: one call (ldg_verify_full) checks the log (ledger/'s
 * ldg_verify, or the doctor's check of the events new since the last
 * recorded verification), with --full the projections' stored state
 * against the log, a checkpoint kept elsewhere and the witnesses that must
 * have cosigned it; it records the result in the ledger where the files
 * allow it, and says what failed first.
 *
 * It sits above ledger/, projections/ and doctor/ (tools/check_layers.sh):
 * the core verifies the log and knows nothing of the state computed from
 * it; a verdict that leaves the projections out is not the one `ledger
 * verify --full` gives, so no caller composes one by hand.
 *
 * Threads: ldg_verify_full reads through one read transaction of l's at a
 * time and may be called from any thread that may read through l
 * (ledger.h); two calls on one verdict at once are not allowed.
 */
#ifndef LDG_VERIFY_H
#define LDG_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ledger/ledger.h"

/* ldg_verify_full's flags beside ledger.h's LDG_VERIFY_FULL and
 * LDG_VERIFY_NOSAVE (which it passes on). */
enum ldg_verdict_flags {
    /* start at v->from (a full check of signatures from there) */
    LDG_VERIFY_FROM = 1 << 8,
    /* only the events appended since the last recorded verification, at
     * what they cost (ldg_doctor_verify_new): takes no FULL, FROM nor a
     * trusted checkpoint */
    LDG_VERIFY_NEW = 1 << 9
};

/* Which part of the verdict failed first (v->failed). */
enum ldg_verdict_part {
    LDG_VERDICT_NONE = 0,    /* everything held */
    LDG_VERDICT_LOG,         /* the log: v->log.bad_seq, v->log.what */
    LDG_VERDICT_PROJECTIONS, /* --full: a stored projection differs */
    LDG_VERDICT_TRUSTED,     /* the log does not extend the checkpoint */
    LDG_VERDICT_QUORUM       /* too few witnesses cosigned it, or forged */
};

#define LDG_VERDICT_WITNESS_MAX 32

struct ldg_verdict {
    /* In: set by the caller before ldg_verify_full; all may stay 0. */
    uint64_t from;            /* with LDG_VERIFY_FROM: the first event */
    const char *trusted;      /* a checkpoint kept elsewhere (its text) */
    size_t trusted_len;       /* (its length) */
    const char *trusted_name; /* what messages call it (a file name) */
    const char *const *witness_keys; /* cosigner keys (ldg_cosig_count) */
    size_t nwitness; /* at most LDG_VERDICT_WITNESS_MAX; needs trusted */
    uint64_t quorum; /* cosignatures needed; 0 = 1 when keys are given */

    /* Out. */
    enum ldg_verdict_part failed;
    /* the first failure, or why it could not verify; "" when it held */
    char what[1024];
    struct ldg_verify_report log; /* the log's check */
    /* --full: the projections checked (bits of LDG_PROJECTIONS_ALL), the
     * differences found (an array of {"projection", "key", "what",
     * "stored", "rebuilt"}, owned by the verdict; NULL when not checked) */
    unsigned proj_checked;
    uint64_t proj_ndiff;
    json_t *proj_diffs;
    /* the trusted checkpoint: 1 when checked; what it found (and the
     * witnesses' count, when asked) */
    int trusted_checked;
    char trusted_said[1536];
    int cosigned[LDG_VERDICT_WITNESS_MAX]; /* 1 for each key that did */
    /* "" when the result is recorded in the ledger or need not be; else
     * why it could not be (a read-only copy) */
    char not_recorded[600];
};

/*
 * The verdict `ledger verify` gives, with flags as it takes them
 * (LDG_VERIFY_FULL, LDG_VERIFY_FROM, LDG_VERIFY_NEW, LDG_VERIFY_NOSAVE):
 *
 *   1. the log (ldg_verify; with LDG_VERIFY_NEW ldg_doctor_verify_new);
 *   2. with a full check that passed: the projections' stored records
 *      against the log (ldg_projections_check_stored): a difference, or a
 *      record that cannot be read, fails the verdict (`ledger rebuild`
 *      makes the state again) and is not recorded as a passing run;
 *   3. with v->trusted, once the log held: that the log extends it
 *      (ldg_verify_trusted), then with v->witness_keys that at least
 *      v->quorum of them cosigned it (ldg_cosig_count).
 *
 * The result is recorded (through l when it is writable, else through a
 * writable handle on its directory, ldg_verify_record_dir) unless
 * LDG_VERIFY_NOSAVE; v->not_recorded says why not. l may be read-only.
 * progress, if set, is called now and then with (done, total), for the
 * log then for the projections.
 * @return 0 when everything held; LDG_ETAMPER with v->failed and v->what
 * naming the first failure (v->log.finding_stands when it is an earlier
 * finding that stands); LDG_EINVAL for flags or inputs that do not go
 * together, LDG_ENOTFOUND for v->from past the log, LDG_EBADINPUT for a
 * malformed witness key or trusted checkpoint, LDG_EBADSIG for a
 * checkpoint not signed by the log key, another code for I/O: v->what
 * says why. Release v with ldg_verdict_release whatever it returns.
 * Cost: ldg_verify's, plus a fold of the log up to the projections'
 * stored size with --full.
 */
int ldg_verify_full(struct ldg_ledger *l, unsigned flags, struct ldg_verdict *v,
                    void (*progress)(void *ctx, uint64_t done, uint64_t total),
                    void *progress_ctx);

/* Frees what ldg_verify_full put in v (v->proj_diffs); v's inputs stay.
 * Lifetime: v is the caller's. */
void ldg_verdict_release(struct ldg_verdict *v);

#endif
