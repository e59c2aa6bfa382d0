/*
 * verify.c — the whole verdict of `ledger verify` (verify.h): the log, the
 * projections' stored state, a trusted checkpoint and its witnesses, and
 * the result recorded.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doctor/doctor.h"
#include "ledger/module.h"
#include "projections/projections.h"
#include "util/util.h"
#include "verify/verify.h"

typedef void (*progress_fn)(void *ctx, uint64_t done, uint64_t total);

/* Why a call on l failed, into v->what. */
static int
failed_on(struct ldg_verdict *v, struct ldg_ledger *l, int rc)
{
    const char *m = ldg_errmsg(l);
    snprintf(v->what, sizeof v->what, "%s",
             m != NULL && m[0] ? m : ldg_strerror(rc));
    return rc;
}

/* Memory ran out since oom was read: no verdict, and nothing recorded (a
 * finding then may be the machine's; ldg_alloc_failures). */
static int
out_of_memory(struct ldg_verdict *v, unsigned long oom)
{
    if (ldg_alloc_failures() == oom)
        return 0;
    v->failed = LDG_VERDICT_NONE;
    snprintf(v->what, sizeof v->what,
             "out of memory while verifying: no verdict, nothing recorded");
    return LDG_ENOMEM;
}

/* The log's verdict failed with what it found. */
static int
log_failed(struct ldg_verdict *v)
{
    v->failed = LDG_VERDICT_LOG;
    snprintf(v->what, sizeof v->what, "%s", v->log.what);
    return LDG_ETAMPER;
}

/* LDG_VERIFY_NEW: the events new since the last recorded verification
 * (doctor/verify_new.c records its result itself). */
static int
verify_new(struct ldg_ledger *l, struct ldg_verdict *v)
{
    int rc = ldg_doctor_verify_new(l, UINT64_MAX, &v->log, v->not_recorded,
                                   sizeof v->not_recorded);
    if (v->log.recorded || v->log.finding_stands ||
        (rc == 0 && v->log.checked == 0))
        v->not_recorded[0] = '\0';
    else if (v->not_recorded[0] == '\0')
        snprintf(v->not_recorded, sizeof v->not_recorded, "not recorded");
    if (rc == LDG_ETAMPER)
        return log_failed(v);
    return rc < 0 ? failed_on(v, l, rc) : 0;
}

/* --full: the projections' stored records against the log. 0 when they
 * are what the log gives, LDG_ETAMPER naming the first difference (or a
 * record that cannot be read), another code on an error. */
static int
check_projections(struct ldg_ledger *l, struct ldg_verdict *v, progress_fn fn,
                  void *ctx)
{
    json_t *d;
    char *key = NULL;
    int rc = ldg_projections_check_stored(l, fn, ctx, &v->proj_diffs,
                                          &v->proj_ndiff, &v->proj_checked);
    if (rc == LDG_ECORRUPT || rc == LDG_EBADINPUT) {
        const char *m = ldg_errmsg(l);
        v->failed = LDG_VERDICT_PROJECTIONS;
        snprintf(v->what, sizeof v->what,
                 "storage corrupt: the projections' records cannot be read "
                 "(%s); `" LDG_CMD_REBUILD "` makes them again from the log",
                 m != NULL && m[0] ? m : ldg_strerror(rc));
        return LDG_ETAMPER;
    }
    if (rc < 0)
        return failed_on(v, l, rc);
    if (v->proj_ndiff == 0)
        return 0;
    d = json_array_get(v->proj_diffs, 0);
    if (json_is_string(json_object_get(d, "key")))
        key = json_dumps(json_object_get(d, "key"), JSON_ENCODE_ANY);
    v->failed = LDG_VERDICT_PROJECTIONS;
    snprintf(v->what, sizeof v->what,
             "projection %s%s%s: %s (%llu difference%s between the stored "
             "state and the one the log gives; the log itself verified; "
             "`" LDG_CMD_REBUILD "` makes the state again from the log)",
             json_string_value(json_object_get(d, "projection")),
             key ? ", record " : "", key ? key : "",
             json_string_value(json_object_get(d, "what")),
             (unsigned long long)v->proj_ndiff, v->proj_ndiff == 1 ? "" : "s");
    free(key);
    return LDG_ETAMPER;
}

/* The k-of-n witness policy over the trusted checkpoint's cosignatures. */
static int
check_quorum(struct ldg_verdict *v)
{
    const char *name = v->trusted_name ? v->trusted_name : "the checkpoint";
    int got = ldg_cosig_count(v->trusted, v->trusted_len, v->witness_keys,
                              v->nwitness, v->cosigned);
    size_t o = 0, tl;
    char who[1024] = "";

    if (got == LDG_EBADINPUT) {
        snprintf(v->what, sizeof v->what,
                 "a witness key or %s: malformed (a witness key is what "
                 "`" LDG_CMD_WITNESS_KEY "` prints)",
                 name);
        return LDG_EBADINPUT;
    }
    for (size_t i = 0; i < v->nwitness && got >= 0; i++)
        o += (size_t)snprintf(
            who + o, o < sizeof who ? sizeof who - o : 0, "%s%.*s %s",
            i ? ", " : "", (int)strcspn(v->witness_keys[i], "+"),
            v->witness_keys[i], v->cosigned[i] ? "cosigned" : "did not cosign");
    if (got < 0 || (uint64_t)got < v->quorum) {
        v->failed = LDG_VERDICT_QUORUM;
        if (got < 0)
            snprintf(v->what, sizeof v->what,
                     "a cosignature on %s by one of the witness keys does "
                     "not verify (forged)",
                     name);
        else
            snprintf(v->what, sizeof v->what,
                     "witness quorum not met: %d of %zu cosigned, %llu "
                     "needed (%s)",
                     got, v->nwitness, (unsigned long long)v->quorum, who);
        snprintf(v->trusted_said, sizeof v->trusted_said, "%s", v->what);
        return LDG_ETAMPER;
    }
    tl = strlen(v->trusted_said);
    snprintf(v->trusted_said + tl, sizeof v->trusted_said - tl,
             "; witness quorum met: %d of %zu cosigned, %llu needed (%s)", got,
             v->nwitness, (unsigned long long)v->quorum, who);
    return 0;
}

/* A trusted checkpoint: the log extends it, and enough witnesses
 * cosigned it. */
static int
check_trusted(struct ldg_ledger *l, struct ldg_verdict *v)
{
    struct ldg_trusted_report tr;
    int rc;

    memset(&tr, 0, sizeof tr);
    rc = ldg_verify_trusted(l, v->trusted, v->trusted_len, &tr);
    v->trusted_checked = 1;
    snprintf(v->trusted_said, sizeof v->trusted_said, "%s", tr.what);
    if (rc == LDG_ETAMPER) {
        v->failed = LDG_VERDICT_TRUSTED;
        snprintf(v->what, sizeof v->what, "%s", tr.what);
        return rc;
    }
    if (rc < 0) {
        const char *m = ldg_errmsg(l);
        snprintf(v->what, sizeof v->what, "%s: %s",
                 v->trusted_name ? v->trusted_name : "trusted checkpoint",
                 m != NULL && m[0] ? m : ldg_strerror(rc));
        return rc;
    }
    return v->nwitness > 0 ? check_quorum(v) : 0;
}

/* Records the run of ldg_verify once the whole verdict is known (it ran
 * with LDG_VERIFY_NOSAVE: a log that held whose projections or trusted
 * checkpoint failed is no passing run): through l when it is writable,
 * else through the directory, where the files allow it. */
static void
record(struct ldg_ledger *l, unsigned flags, struct ldg_verdict *v)
{
    if ((flags & LDG_VERIFY_NOSAVE) || v->log.recorded || v->log.finding_stands)
        return;
    int rc = ldg_verify_record(l, &v->log); /* LDG_EINVAL: read-only */
    if (rc != LDG_EINVAL) {
        v->log.recorded = rc == 0;
        if (rc < 0)
            snprintf(v->not_recorded, sizeof v->not_recorded, "%s",
                     ldg_errmsg(l)[0] ? ldg_errmsg(l) : ldg_strerror(rc));
        return;
    }
    if (ldg_verify_record_dir(ldg_dir(l), NULL, &v->log, v->not_recorded,
                              sizeof v->not_recorded) == 0)
        v->not_recorded[0] = '\0';
    else if (v->not_recorded[0] == '\0')
        snprintf(v->not_recorded, sizeof v->not_recorded, "not recorded");
}

/* The inputs go together: 0, or LDG_EINVAL with v->what. */
static int
check_inputs(unsigned flags, struct ldg_verdict *v)
{
    const char *bad = NULL;
    if ((flags & LDG_VERIFY_NEW) &&
        (flags & (LDG_VERIFY_FULL | LDG_VERIFY_FROM) || v->trusted != NULL))
        bad = "a check of the new events only takes no full check, start "
              "or trusted checkpoint";
    else if (v->nwitness > 0 && v->trusted == NULL)
        bad = "witness keys need a trusted checkpoint";
    else if (v->nwitness > LDG_VERDICT_WITNESS_MAX)
        bad = "more witness keys than LDG_VERDICT_WITNESS_MAX";
    else if (v->quorum > v->nwitness)
        bad = "a quorum larger than the witness keys given";
    if (bad != NULL) {
        snprintf(v->what, sizeof v->what, "%s", bad);
        return LDG_EINVAL;
    }
    if (v->nwitness > 0 && v->quorum == 0)
        v->quorum = 1;
    return 0;
}

/* LDG_VERIFY_FROM: v->from must name an event. */
static int
check_from(struct ldg_ledger *l, struct ldg_verdict *v)
{
    uint64_t size = 0;
    int rc = ldg_size(l, &size);
    if (rc < 0)
        return failed_on(v, l, rc);
    if (v->from < size)
        return 0;
    snprintf(v->what, sizeof v->what,
             "no such event (the log has events 0..%llu)",
             (unsigned long long)(size ? size - 1 : 0));
    return LDG_ENOTFOUND;
}

int
ldg_verify_full(struct ldg_ledger *l, unsigned flags, struct ldg_verdict *v,
                progress_fn progress, void *progress_ctx)
{
    /* recorded here, at the end (record) */
    unsigned lflags = (flags & LDG_VERIFY_FULL) | LDG_VERIFY_NOSAVE;
    unsigned long oom = ldg_alloc_failures();
    int rc;

    if (l == NULL || v == NULL)
        return LDG_EINVAL;
    memset(&v->failed, 0, sizeof *v - offsetof(struct ldg_verdict, failed));
    if ((rc = check_inputs(flags, v)) < 0)
        return rc;
    if (flags & LDG_VERIFY_NEW)
        return verify_new(l, v);
    if (flags & LDG_VERIFY_FROM) {
        if ((rc = check_from(l, v)) < 0)
            return rc;
        lflags |= LDG_VERIFY_FULL; /* an explicit start overrides the saved */
    }
    rc = ldg_verify(l, lflags, (flags & LDG_VERIFY_FROM) ? v->from : 0, &v->log,
                    progress, progress_ctx);
    if (rc < 0 && rc != LDG_ETAMPER)
        return failed_on(v, l, rc);
    if (rc == 0 && v->log.full &&
        (rc = check_projections(l, v, progress, progress_ctx)) != 0) {
        int orc = out_of_memory(v, oom);
        return orc < 0 ? orc : rc; /* the log held: not recorded as passing */
    }
    if (rc == LDG_ETAMPER) {
        if ((rc = out_of_memory(v, oom)) < 0)
            return rc;
        record(l, flags, v);
        return log_failed(v);
    }
    /* a log that holds but is not the one a trusted checkpoint names
     * (rolled back, forked) is not recorded as a passing run either */
    if (v->trusted != NULL && (rc = check_trusted(l, v)) != 0) {
        int orc = out_of_memory(v, oom);
        return orc < 0 ? orc : rc;
    }
    if ((rc = out_of_memory(v, oom)) < 0)
        return rc;
    record(l, flags, v);
    return 0;
}

void
ldg_verdict_release(struct ldg_verdict *v)
{
    if (v == NULL)
        return;
    json_decref(v->proj_diffs);
    v->proj_diffs = NULL;
}
