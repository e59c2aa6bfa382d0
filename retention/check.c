/*
 * check.c — what prune checks before it removes anything: that the
 * archive is readable and holds exactly the events before the horizon,
 * proven against the log, and that the state it carries is the log's
 * (retention.h, docs/RETENTION.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>

#include "export/export.h"
#include "retention/retention.h"
#include "util/util.h"
#include "retention/retention_int.h"

/* Whether br selects exactly h's events, whole. */
static int
whole_span(const struct ldg_bundle_report *br,
           const struct ldg_retention_horizon *h)
{
    return br->selected == h->horizon - h->first && br->sel_first == h->first &&
           br->sel_last == h->horizon - 1 && br->fields_withheld == 0 &&
           br->bodies_withheld == 0;
}

/* "archive P holds events F..L (...) proven at size S; pruning before H
 * needs exactly ..." on l */
static void
wrong_span(struct ldg_ledger *l, const char *path,
           const struct ldg_bundle_report *br,
           const struct ldg_retention_horizon *h)
{
    ldg_set_errmsg(
        l,
        "archive %s holds events %llu..%llu (%llu, %llu "
        "selected, %llu fields and %llu bodies withheld) "
        "proven at size %llu; pruning before %llu needs "
        "exactly events %llu..%llu, whole, proven against this "
        "ledger's checkpoint of size %llu or a later one "
        "(" LDG_CMD_ARCHIVE_BEFORE ")",
        path, (unsigned long long)br->first_seq,
        (unsigned long long)br->last_seq, (unsigned long long)br->events,
        (unsigned long long)br->selected,
        (unsigned long long)br->fields_withheld,
        (unsigned long long)br->bodies_withheld,
        (unsigned long long)br->checkpoint_size, (unsigned long long)h->horizon,
        (unsigned long long)h->first, (unsigned long long)(h->horizon - 1),
        (unsigned long long)h->horizon, (unsigned long long)h->horizon);
}

struct erased_ctx {
    struct ldg_txn *t;
    uint64_t first, horizon; /* the range asked about */
    uint64_t n, target, by;  /* how many erased in it; the first of them */
};

static int
erased_add(void *ctx, uint64_t seq)
{
    struct erased_ctx *x = ctx;
    json_t *body = NULL;
    json_int_t tg;

    if (ldg_body_get(x->t, seq, &body) < 0)
        return 0; /* verify names a body.erased without its body */
    tg = json_integer_value(json_object_get(body, "target_seq"));
    json_decref(body);
    if (tg >= 0 && (uint64_t)tg >= x->first && (uint64_t)tg < x->horizon &&
        (uint64_t)tg < seq) {
        if (x->n == 0 || (uint64_t)tg < x->target) {
            x->target = (uint64_t)tg;
            x->by = seq;
        }
        x->n++;
    }
    return 0;
}

/* An archive written before `ledger erase` still holds the erased body:
 * it cannot become the archive of record (the erasure would live on in
 * it, and a later erase could not reach it). */
static int
check_erasures(struct ldg_ledger *l, const struct ldg_retention_horizon *h,
               const char *path, uint64_t archive_erased)
{
    struct erased_ctx x = {0};
    int rc;

    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &x.t)) < 0)
        return rc;
    x.first = h->first;
    x.horizon = h->horizon;
    rc = ldg_index_walk(x.t, LDG_INDEX_TYPE, LDG_EV_BODY_ERASED, 0, UINT64_MAX,
                        0, erased_add, &x);
    ldg_txn_abort(x.t);
    if (rc < 0)
        return rc;
    if (x.n > archive_erased) {
        ldg_set_errmsg(
            l,
            "archive %s holds bodies erased since it was written "
            "(%llu erased in the ledger, %llu in the archive; "
            "the first: event %llu, erased by event %llu): it "
            "would keep them; write the archive again (" LDG_CMD_ARCHIVE_BEFORE
            ") and prune with that one",
            path, (unsigned long long)x.n, (unsigned long long)archive_erased,
            (unsigned long long)x.target, (unsigned long long)x.by,
            (unsigned long long)h->horizon);
        return LDG_ETAMPER;
    }
    return 0;
}

/* The state an archive carries is the doctor's and the views' answer
 * from it (`doctor --bundle`): the state at the horizon when it is proven
 * there, none when it is proven at a later checkpoint (as `ledger
 * archive` writes it when a body was erased after the horizon: the state
 * at that size folds events it does not hold). */
static int
check_state(struct ldg_ledger *l, const struct ldg_retention_horizon *h,
            const char *path, const struct ldg_bundle_report *br)
{
    int has_state = 0;

    for (size_t i = 0; i < br->nchecks; i++)
        if (strcmp(br->checks[i].name, "state") == 0)
            has_state = br->checks[i].status != LDG_CHECK_SKIP;
    if (br->checkpoint_size == h->horizon && !has_state) {
        ldg_set_errmsg(
            l,
            "archive %s carries no projected state (exported "
            "with " LDG_OPT_NO_STATE ", or its state could not be computed): "
            "`" LDG_CMD_DOCTOR_BUNDLE "` could not read the state "
            "at the horizon from it; write it with " LDG_CMD_ARCHIVE_BEFORE
            " (after " LDG_CMD_REBUILD ", if the projections are damaged)",
            path, path, (unsigned long long)h->horizon);
        return LDG_ETAMPER;
    }
    if (br->checkpoint_size > h->horizon && has_state) {
        ldg_set_errmsg(l,
                       "archive %s carries the projected state at size %llu, "
                       "after the horizon %llu: it folds events the archive "
                       "does not hold, and `" LDG_CMD_DOCTOR_BUNDLE "` would "
                       "answer with it; write it with " LDG_CMD_ARCHIVE_BEFORE,
                       path, (unsigned long long)br->checkpoint_size,
                       (unsigned long long)h->horizon, path,
                       (unsigned long long)h->horizon);
        return LDG_ETAMPER;
    }
    return 0;
}

int
ret_archive_readable(struct ldg_ledger *l, const char *path)
{
    struct stat sb;

    if (access(path, R_OK) != 0 || stat(path, &sb) != 0) {
        int e = errno;
        ldg_set_errmsg(l, "cannot open %s: %s", path, strerror(e));
        return e == ENOENT || e == ENOTDIR ? LDG_ENOTFOUND : LDG_EIO;
    }
    if (S_ISDIR(sb.st_mode)) {
        ldg_set_errmsg(l, "cannot open %s: %s", path, strerror(EISDIR));
        return LDG_ENOTFOUND;
    }
    if (!S_ISREG(sb.st_mode)) {
        ldg_set_errmsg(l, "archive %s: not a file (a bundle is one file)",
                       path);
        return LDG_EBADINPUT;
    }
    return 0;
}

/* Where two JSON values first differ, as a path from the root and the two
 * values ("doctor.packs[0].verdict: \"healthy\" in the archive, \"unknown\"
 * as the ledger computes it"), into buf. got: the archive's; want: the
 * ledger's. 1 when they differ, 0 when they are equal. */
static int
json_diff(const json_t *got, const json_t *want, char *path, size_t at,
          size_t cap, char *buf, size_t bufcap)
{
    if (json_typeof(got) == json_typeof(want) && json_is_object(want)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)(uintptr_t)want, k, v)
        {
            size_t n =
                (size_t)snprintf(path + at, cap - at, "%s%s", at ? "." : "", k);
            const json_t *g = json_object_get(got, k);
            if (at + n >= cap)
                n = cap - at - 1;
            if (g == NULL) {
                snprintf(buf, bufcap, "%s: missing in the archive", path);
                return 1;
            }
            if (json_diff(g, v, path, at + n, cap, buf, bufcap))
                return 1;
        }
        json_object_foreach((json_t *)(uintptr_t)got, k, v)
        {
            if (json_object_get(want, k) != NULL)
                continue;
            snprintf(path + at, cap - at, "%s%s", at ? "." : "", k);
            snprintf(buf, bufcap, "%s: in the archive only", path);
            return 1;
        }
        path[at] = '\0';
        return 0;
    }
    if (json_typeof(got) == json_typeof(want) && json_is_array(want) &&
        json_array_size(got) == json_array_size(want)) {
        for (size_t i = 0; i < json_array_size(want); i++) {
            size_t n = (size_t)snprintf(path + at, cap - at, "[%zu]", i);
            if (at + n >= cap)
                n = cap - at - 1;
            if (json_diff(json_array_get(got, i), json_array_get(want, i), path,
                          at + n, cap, buf, bufcap))
                return 1;
        }
        path[at] = '\0';
        return 0;
    }
    if (json_equal((json_t *)(uintptr_t)got, (json_t *)(uintptr_t)want))
        return 0;
    {
        char *g = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);
        char *w = json_dumps(want, JSON_COMPACT | JSON_ENCODE_ANY);
        snprintf(buf, bufcap,
                 "%s%s%.60s%s in the archive, %.60s%s as the ledger computes "
                 "it",
                 at ? path : "the state", ": ", g ? g : "?",
                 g && strlen(g) > 60 ? "..." : "", w ? w : "?",
                 w && strlen(w) > 60 ? "..." : "");
        free(g);
        free(w);
    }
    return 1;
}

/* The archive's STATE is the state this ledger computes at the horizon,
 * byte for byte (FORMAT.md 11.8, "a prune's check"): its note signs the
 * projection records' digests, not the views STATE holds, and its trailer
 * is signed by the log key, which whoever forges it on this box holds. */
static int
same_state(struct ldg_ledger *l, const struct ldg_retention_horizon *h,
           const char *path, const struct ldg_segment_info *in)
{
    char *want = NULL, *note = NULL, where[400], pth[200];
    json_t *g, *w;
    size_t i;
    int rc;

    if ((rc = ldg_export_segment_state(l, h->horizon, &want, &note)) < 0) {
        if (ldg_errmsg(l)[0] == '\0')
            ldg_set_errmsg(l, "the projections' state at the horizon: %s",
                           ldg_strerror(rc));
        return rc;
    }
    free(note);
    if (strlen(want) == in->state_len &&
        memcmp(want, in->state, in->state_len) == 0) {
        free(want);
        return 0;
    }
    g = json_loadb(in->state, in->state_len, JSON_REJECT_DUPLICATES, NULL);
    w = json_loads(want, 0, NULL);
    pth[0] = '\0';
    if (g == NULL || w == NULL) {
        snprintf(where, sizeof where, "it is not JSON");
    } else if (!json_diff(g, w, pth, 0, sizeof pth, where, sizeof where)) {
        for (i = 0; i < in->state_len && want[i] == in->state[i]; i++)
            ;
        snprintf(where, sizeof where,
                 "the same JSON in other bytes (byte %zu differs: %zu "
                 "bytes, the ledger's %zu)",
                 i, in->state_len, strlen(want));
    }
    json_decref(g);
    json_decref(w);
    ldg_set_errmsg(l,
                   "archive %s carries a projected state at %llu that is "
                   "not the one this ledger computes there: %s (a state "
                   "forged and its trailer signed again, or written by a "
                   "build whose projections differ: write it again "
                   "with " LDG_CMD_ARCHIVE_BEFORE ")",
                   path, (unsigned long long)h->horizon, where,
                   (unsigned long long)h->horizon);
    free(want);
    return LDG_ETAMPER;
}

/* A segment (what `ledger archive` writes): it must be exactly this
 * ledger's events h.first..horizon-1 — each leaf the ledger's tree holds,
 * its bodies those the ledger still holds, its checkpoint the ledger's,
 * the earlier horizon record the ledger's — with the state at the horizon
 * and its signed note (*note gets it, malloc'd, for the prune to keep),
 * verified with the log key in one pass; sha256 gets the SHA-256 of the
 * bytes verified. No JSON, no proof an event. */
static int
check_segment(struct ldg_ledger *l, const struct ldg_retention_horizon *h,
              const char *path, int fd, char **note, uint8_t sha256[32],
              uint64_t *arch_first)
{
    struct ldg_segment_verify_opts vo;
    struct ldg_segment_result *sr;
    struct ldg_txn *t = NULL;
    struct ldg_horizon rec;
    int rc, has_rec = 0;

    *note = NULL;
    if ((sr = calloc(1, sizeof *sr)) == NULL)
        return LDG_ENOMEM;
    memset(&vo, 0, sizeof vo);
    vo.keep_state = 1;
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) == 0) {
        rc = ldg_segment_check(t, fd, &vo, sr);
        has_rec = h->first > 0 && ldg_horizon_get(t, &rec) == 0;
        ldg_txn_abort(t);
    }
    if (rc == LDG_EIO || rc == LDG_ENOMEM) {
        ldg_set_errmsg(l, "archive %s: cannot be read (%s)", path,
                       sr->what[0] ? sr->what : ldg_strerror(rc));
        goto out;
    }
    /* the archive the horizon record pins, of a prune a crash stopped
     * between two of its steps: it holds the events from that record's
     * first (pruned already) to the horizon, and the prune goes on with
     * it */
    if (rc == 0 && sr->ok && has_rec && rec.first < h->first &&
        sr->info.first == rec.first && sr->info.end == h->horizon &&
        memcmp(sr->info.sha256, rec.archive, 32) == 0)
        *arch_first = rec.first;
    if (sr->readable && (rc == 0 || sr->failed == LDG_SEGCHK_TREE) &&
        (sr->info.first != *arch_first || sr->info.end != h->horizon)) {
        /* this ledger's events (or a range whose leaves its tree holds up
         * to where one differs), but not the range asked for */
        ldg_set_errmsg(
            l,
            "archive %s holds events %llu..%llu; pruning before "
            "%llu needs exactly events %llu..%llu (" LDG_CMD_ARCHIVE_BEFORE ")",
            path, (unsigned long long)sr->info.first,
            (unsigned long long)(sr->info.end - 1),
            (unsigned long long)h->horizon, (unsigned long long)h->first,
            (unsigned long long)(h->horizon - 1),
            (unsigned long long)h->horizon);
        rc = LDG_ETAMPER;
        goto out;
    }
    if (rc < 0 || !sr->ok) {
        if (!sr->readable || sr->failed == LDG_SEGCHK_CONTAINER)
            ldg_set_errmsg(l, "archive %s cannot be read as a segment: %s",
                           path, sr->what);
        else
            ldg_set_errmsg(l,
                           "archive %s does not hold what this ledger holds "
                           "of events %llu..%llu: %s: %s",
                           path, (unsigned long long)h->first,
                           (unsigned long long)(h->horizon - 1),
                           ldg_segment_check_name(sr->failed), sr->what);
        rc = !sr->readable || sr->failed == LDG_SEGCHK_CONTAINER ||
                     rc == LDG_EBADINPUT || rc == LDG_ETOOBIG ||
                     rc == LDG_EVERSION
                 ? LDG_EBADINPUT
                 : LDG_ETAMPER;
        goto out;
    }
    if (!sr->info.has_state || sr->info.state_note == NULL) {
        ldg_set_errmsg(
            l,
            "archive %s carries no projected state: `" LDG_CMD_DOCTOR_BUNDLE
            "` could not read the state at "
            "the horizon from it; write it with " LDG_CMD_ARCHIVE_BEFORE,
            path, path, (unsigned long long)h->horizon);
        rc = LDG_ETAMPER;
        goto out;
    }
    if ((rc = same_state(l, h, path, &sr->info)) < 0)
        goto out;
    *note = sr->info.state_note;
    sr->info.state_note = NULL;
    memcpy(sha256, sr->info.sha256, 32);
    rc = 0;
out:
    if (has_rec)
        ldg_horizon_release(&rec);
    ldg_segment_info_release(&sr->info);
    free(sr);
    return rc;
}

int
ret_check_archive(struct ldg_ledger *l, const struct ldg_retention_horizon *hz,
                  const char *path, char **note, uint8_t sha256[32],
                  uint64_t *arch_first)
{
    struct ldg_bundle_verify_opts vo;
    struct ldg_bundle_report *br;
    struct ldg_retention_horizon span = *hz, *h = &span;
    struct ldg_horizon rec;
    char vkey[512], *ck = NULL;
    int rc;

    *note = NULL;
    *arch_first = hz->first;
    {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            ldg_set_errmsg(l, "archive %s: %s", path, strerror(errno));
            return errno == ENOENT ? LDG_ENOTFOUND : LDG_EIO;
        }
        rc = ldg_segment_sniff(fd);
        if (rc == 1)
            rc = check_segment(l, hz, path, fd, note, sha256, arch_first);
        else if (rc == 0)
            rc = 1;
        close(fd);
        if (rc <= 0)
            return rc;
    }
    /* a bundle: the SHA-256 of the file as it is now */
    if ((rc = ret_file_sha256(path, sha256)) < 0) {
        ldg_set_errmsg(l, "archive %s: cannot be read (%s)", path,
                       ldg_strerror(rc));
        return rc;
    }
    /* the archive the horizon record names, of a prune a crash stopped
     * between two of its steps: it holds the events from that record's
     * first, and the prune goes on with it */
    if (hz->first > 0 && ldg_horizon(l, &rec) == 0) {
        if (memcmp(rec.archive, sha256, 32) == 0 && rec.first < hz->first)
            span.first = rec.first;
        ldg_horizon_release(&rec);
    }
    *arch_first = span.first;
    if ((rc = ldg_verifier_key(l, vkey, sizeof vkey)) < 0)
        return rc;
    if ((br = calloc(1, sizeof *br)) == NULL)
        return LDG_ENOMEM;
    /* verified with this log's key; its checkpoint is then compared with
     * the ledger's own of that size (at the horizon, or later when it
     * carries erasures made since) */
    memset(&vo, 0, sizeof vo);
    vo.trusted_vkey = vkey;
    /* an archive is as large as the events it holds */
    vo.limits.total_bytes = (uint64_t)1 << 40;
    vo.limits.file_bytes = (uint64_t)1 << 36; /* its events.jsonl */
    vo.limits.files = (uint64_t)1 << 32;
    rc = ldg_export_verify(path, &vo, br);
    if (rc == LDG_ENOTFOUND || rc == LDG_EIO || rc == LDG_ENOMEM) {
        ldg_set_errmsg(l, "archive %s: cannot be read (%s)", path,
                       ldg_strerror(rc));
        free(br);
        return rc;
    }
    if (br->readable && br->checkpoint_size != 0 &&
        (br->checkpoint_size < h->horizon ||
         (br->selected > 0 && !whole_span(br, h)))) {
        /* not exactly the events before the horizon, whole: said before
         * any check that fails because of it */
        wrong_span(l, path, br, h);
        free(br);
        return LDG_ETAMPER;
    }
    if (!br->readable || !br->ok) {
        const char *what = "it does not verify";
        for (size_t i = 0; i < br->nchecks; i++)
            if (br->checks[i].status == LDG_CHECK_FAIL) {
                if (!br->readable)
                    ldg_set_errmsg(l,
                                   "archive %s cannot be read as an "
                                   "evidence bundle: %s: %s",
                                   path, br->checks[i].name,
                                   br->checks[i].detail);
                else
                    ldg_set_errmsg(l,
                                   "archive %s is not this ledger's archive "
                                   "of events %llu..%llu: %s: %s",
                                   path, (unsigned long long)h->first,
                                   (unsigned long long)(h->horizon - 1),
                                   br->checks[i].name, br->checks[i].detail);
                what = NULL;
                break;
            }
        if (what != NULL)
            ldg_set_errmsg(l, "archive %s: %s", path, what);
        /* not a bundle at all: bad data, as verify-bundle says it */
        rc = br->readable ? LDG_ETAMPER : LDG_EBADINPUT;
        free(br);
        return rc;
    }
    if (!whole_span(br, h)) {
        wrong_span(l, path, br, h);
        free(br);
        return LDG_ETAMPER;
    }
    if ((rc = check_erasures(l, h, path, br->bodies_erased)) < 0 ||
        (rc = check_state(l, h, path, br)) < 0) {
        free(br);
        return rc;
    }
    /* its checkpoint is this ledger's: same origin, size and root */
    {
        struct ldg_txn *t = NULL;
        char origin[LDG_ORIGIN_MAX + 1];
        uint8_t root[32];
        uint64_t size = 0;
        rc = ldg_txn_begin(l, LDG_TXN_READ, &t);
        if (rc == 0)
            rc = ldg_checkpoint_get(t, br->checkpoint_size, &ck);
        ldg_txn_abort(t);
        if (rc == 0)
            rc = ldg_checkpoint_open(vkey, ck, strlen(ck), origin,
                                     sizeof origin, &size, root);
        free(ck);
        if (rc == LDG_ENOTFOUND ||
            (rc == 0 &&
             (size != br->checkpoint_size || strcmp(origin, br->origin) != 0 ||
              memcmp(root, br->checkpoint_root, 32) != 0))) {
            ldg_set_errmsg(l,
                           "archive %s is not this ledger's archive of events "
                           "%llu..%llu: its checkpoint of size %llu is not "
                           "the ledger's%s",
                           path, (unsigned long long)h->first,
                           (unsigned long long)(h->horizon - 1),
                           (unsigned long long)br->checkpoint_size,
                           rc == LDG_ENOTFOUND
                               ? " (the ledger has no checkpoint of that size)"
                               : " (another root: a log that forked)");
            free(br);
            return LDG_ETAMPER;
        }
        if (rc < 0) {
            free(br);
            return rc;
        }
    }
    free(br);
    return 0;
}
