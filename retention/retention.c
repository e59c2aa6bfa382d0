/*
 * retention.c — archive and prune (retention.h, docs/RETENTION.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "export/export.h"
#include "metrics/metrics.h"
#include "ledger/module.h"
#include "projections/projections.h"
#include "query/query.h"
#include "retention/retention.h"
#include "util/util.h"

/* The horizon for "before seq v" (by_time 0) or "before the time v". */
static int
resolve(struct ldg_ledger *l, const char *before, int by_time, uint64_t v,
        struct ldg_retention_horizon *h)
{
    struct ldg_horizon hz;
    struct ldg_txn *t = NULL;
    struct ldg_event ev;
    int rc;

    memset(h, 0, sizeof *h);
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
        return rc;
    if ((rc = ldg_txn_size(t, &h->size)) < 0)
        goto out;
    rc = ldg_horizon_get(t, &hz);
    if (rc == 0) {
        h->first = hz.seq;
        ldg_horizon_release(&hz);
    } else if (rc != LDG_ENOTFOUND) {
        goto out;
    }
    if (!by_time) {
        h->requested = v;
        h->past_end = v > h->size;
    } else {
        h->before_ns = v;
        uint64_t lo = 0, hi = h->size ? h->size - 1 : 0;
        /* the first event at or after the time: the events before it */
        rc = h->size == 0 ? 1 : ldg_time_window(t, v, UINT64_MAX, &lo, &hi);
        if (rc < 0)
            goto out;
        h->requested = rc == 1 ? h->size : lo;
        h->past_end = rc == 1;
    }
    if (h->requested > h->size)
        h->requested = h->size;
    rc = ldg_checkpoint_floor(t, h->requested, &h->horizon);
    if (rc == LDG_ENOTFOUND)
        h->horizon = 0;
    else if (rc < 0)
        goto out;
    rc = 0;
    if (h->horizon <= h->first) {
        if (h->first > 0 && h->requested <= h->first)
            ldg_set_errmsg(l,
                           "nothing before %s is left to archive or prune: "
                           "events 0..%llu were pruned already",
                           before, (unsigned long long)(h->first - 1));
        else if (h->first > 0)
            ldg_set_errmsg(l,
                           "nothing before %s is left to archive or prune: "
                           "events 0..%llu were pruned already, and no commit "
                           "ends after event %llu and before %llu",
                           before, (unsigned long long)(h->first - 1),
                           (unsigned long long)h->first,
                           (unsigned long long)h->requested);
        else
            ldg_set_errmsg(l,
                           "nothing before %s: no commit of the log ends "
                           "at or before it (the log has %llu events)",
                           before, (unsigned long long)h->size);
        rc = LDG_ENOTFOUND;
        goto out;
    }
    LDG_ASSERT(h->first < h->horizon && h->requested <= h->size);
    if ((rc = ldg_event_get(t, h->horizon - 1, &ev)) < 0)
        goto out;
    h->until_ns = ev.ts_ns;
out:
    ldg_txn_abort(t);
    return rc;
}

int
ldg_retention_resolve(struct ldg_ledger *l, const char *before, uint64_t now_ns,
                      struct ldg_retention_horizon *h)
{
    char err[600];
    uint64_t seq, ns;
    int rc;

    if (h != NULL)
        memset(h, 0, sizeof *h);
    if (l == NULL || before == NULL || h == NULL)
        return LDG_EINVAL;
    rc = ldg_query_parse_point(before, now_ns, &seq, &ns, err, sizeof err);
    if (rc < 0) {
        ldg_set_errmsg(l, LDG_OPT_BEFORE " %s", err);
        return rc;
    }
    return rc == 1 ? resolve(l, before, 0, seq, h)
                   : resolve(l, before, 1, ns, h);
}

/* SHA-256 of a file. */
static int
file_sha256(const char *path, uint8_t out[32])
{
    struct ldg_sha256_ctx c;
    uint8_t buf[1 << 16];
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return errno == ENOENT ? LDG_ENOTFOUND : LDG_EIO;
    ldg_sha256_init(&c);
    while ((n = read(fd, buf, sizeof buf)) > 0)
        ldg_sha256_update(&c, buf, (size_t)n);
    close(fd);
    if (n < 0)
        return LDG_EIO;
    ldg_sha256_final(&c, out);
    return 0;
}

/* The archive as an evidence bundle (export/export.h), as `ledger
 * archive` wrote it before segments (--format bundle): proven against the
 * checkpoint at the horizon, or, when a body of an archived event was
 * erased after it, against the log's latest, with no state. */
static int
archive_bundle(struct ldg_ledger *l, const struct ldg_archive_opts *o,
               struct ldg_archive_report *r)
{
    struct ldg_export_opts eo;
    struct ldg_export_report er;
    char term[80];
    char *terms[1];
    int rc;

    snprintf(term, sizeof term, "seq=%llu..%llu",
             (unsigned long long)r->h.first,
             (unsigned long long)(r->h.horizon - 1));
    terms[0] = term;
    memset(&eo, 0, sizeof eo);
    eo.nterms = 1;
    eo.terms = terms;
    eo.checkpoint_size = r->h.horizon;
    eo.max_events = UINT64_MAX;
    eo.max_bytes = (uint64_t)1 << 40;
    eo.level = o->level;
    eo.progress = o->progress;
    eo.progress_ctx = o->progress_ctx;
    eo.exported_by = LDG_CMD_ARCHIVE;
    rc = ldg_export_write(l, &eo, o->out, &er);
    r->erased_by = UINT64_MAX;
    if (rc == LDG_EERASED) {
        /* a body erased after the horizon: the archive carries that
         * erasure, proven against the log's latest checkpoint */
        r->erased_by = er.erased_after;
        eo.checkpoint_size = 0;
        /* a bundle's state is at its checkpoint's size, and the state at
         * the latest folds events the archive does not hold: left out */
        eo.no_state = 1;
        eo.no_state_why = "left out: the archive is proven against the "
                          "log's later checkpoint, and the state at that "
                          "size folds events after the horizon, which the "
                          "archive does not hold";
        ldg_set_errmsg(l, "%s", "");
        rc = ldg_export_write(l, &eo, o->out, &er);
    }
    if (rc < 0)
        return rc;
    r->checkpoint_size = er.checkpoint_size;
    r->events = er.selected;
    r->bytes = er.bytes;
    /* what a reader needs to be told (verify-bundle --max-bytes) */
    if (er.unpacked_bytes > LDG_BUNDLE_TOTAL_DEFAULT ||
        er.largest_member > LDG_BUNDLE_FILE_DEFAULT)
        r->max_bytes = er.unpacked_bytes > er.largest_member
                           ? er.unpacked_bytes
                           : er.largest_member;
    if (er.selected != r->h.horizon - r->h.first || er.bodies_withheld ||
        er.fields_withheld) {
        ldg_set_errmsg(l,
                       "the archive holds %llu events, not the %llu before "
                       "the horizon: %s is incomplete, remove it",
                       (unsigned long long)er.selected,
                       (unsigned long long)(r->h.horizon - r->h.first), o->out);
        return LDG_ECORRUPT;
    }
    if ((rc = file_sha256(o->out, r->sha256)) < 0)
        ldg_set_errmsg(l, "%s: cannot read it back: %s", o->out,
                       ldg_strerror(rc));
    return rc;
}

int
ldg_retention_archive(struct ldg_ledger *l, const struct ldg_archive_opts *o,
                      struct ldg_archive_report *r)
{
    struct ldg_export_segment_opts so;
    struct ldg_segment_report info;
    int rc;

    if (l == NULL || o == NULL || r == NULL || o->out == NULL)
        return LDG_EINVAL;
    memset(r, 0, sizeof *r);
    r->erased_by = UINT64_MAX;
    if ((rc = ldg_retention_resolve(l, o->before, ldg_now_wall_ns(), &r->h)) <
        0)
        return rc;
    LDG_ASSERT(r->h.first < r->h.horizon);
    if (o->bundle)
        return archive_bundle(l, o, r);
    /* a segment of the events first..horizon-1, proven by their leaves
     * against the checkpoint at the horizon, with the state there and a
     * note signed for it (docs/RETENTION.md) */
    memset(&so, 0, sizeof so);
    so.first = r->h.first;
    so.end = r->h.horizon;
    so.with_state = 1;
    so.level = o->level;
    so.progress = o->progress;
    so.progress_ctx = o->progress_ctx;
    so.snapshot = o->snapshot;
    so.snapshot_ctx = o->snapshot_ctx;
    ldg_set_errmsg(l, "%s", "");
    if ((rc = ldg_export_segment(l, &so, o->out, &info)) < 0)
        return rc;
    r->checkpoint_size = info.checkpoint_size;
    r->events = info.events;
    r->bytes = info.bytes;
    r->after = info.after;
    r->erased = info.erased;
    memcpy(r->sha256, info.sha256, 32);
    return 0;
}

/* Bytes of the pages the ledger's databases use (the free ones aside). */
static uint64_t
used_bytes2(struct ldg_ledger *l, uint64_t *removable)
{
    struct ldg_db_size *d = NULL;
    uint64_t sum = 0;
    size_t n = 0;
    if (removable != NULL)
        *removable = 0;
    if (ldg_stats_databases(l, &d, &n) < 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (d[i].cls == LDG_DBC_FREE)
            continue;
        sum += d[i].bytes;
        /* what a prune removes: the kept events' own records (their tree
         * hashes and the checkpoints stay, and the state) */
        if (removable != NULL &&
            (d[i].cls == LDG_DBC_EVENT || d[i].cls == LDG_DBC_INDEX))
            *removable += d[i].bytes;
    }
    free(d);
    return sum;
}

static uint64_t
used_bytes(struct ldg_ledger *l)
{
    return used_bytes2(l, NULL);
}

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

/* The archive is a file this process can read: LDG_ENOTFOUND (missing,
 * or a directory: no input there, as for the bundle readers and ingest),
 * LDG_EIO or LDG_EBADINPUT (a device, a pipe) named on l. */
static int
archive_readable(struct ldg_ledger *l, const char *path)
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

/* The archive must select exactly the events h.first..horizon-1, verify
 * with this log's key, with nothing withheld, against a checkpoint that is
 * this ledger's own of its size (at the horizon, or later when it carries
 * erasures made since). A segment is checked as one (check_segment): then
 * *note and sha256 are set; a bundle (what `ledger archive` wrote before
 * segments) leaves *note NULL. */
static int
check_archive(struct ldg_ledger *l, const struct ldg_retention_horizon *hz,
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
    if ((rc = file_sha256(path, sha256)) < 0) {
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

static const char *
base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* The archive of a prune that was made already (the events asked for are
 * all before the horizon): FILE must be the archive a kept record pins,
 * by its SHA-256, for the last event asked for — the horizon record's
 * (the latest prune), or a kept ledger.pruned event's (an earlier one).
 * 0 with r->already and r->why; LDG_ETAMPER naming the archive that is,
 * or saying that no record of it is kept. */
struct pruned_find {
    struct ldg_txn *t;
    uint64_t last;   /* the last event asked for */
    const char *hex; /* the file's SHA-256 */
    uint64_t seq;    /* the ledger.pruned that covers last */
    uint64_t first, horizon;
    char name[256];
    char pinned[65];
    int found;
};

static int
pruned_find_one(void *ctx, uint64_t seq)
{
    struct pruned_find *x = ctx;
    json_t *b = NULL;
    json_int_t f, h;
    const char *sha, *name;

    if (ldg_body_get(x->t, seq, &b) < 0)
        return 0;
    f = json_integer_value(json_object_get(b, "first"));
    h = json_integer_value(json_object_get(b, "horizon"));
    sha = json_string_value(json_object_get(b, "archive_sha256"));
    name = json_string_value(json_object_get(b, "archive"));
    /* the newest that covers the event (a prune stopped between its steps
     * and made again is one archive) */
    if (sha != NULL && strlen(sha) == 64 && f >= 0 && h > f &&
        (uint64_t)f <= x->last && x->last < (uint64_t)h) {
        x->seq = seq;
        x->first = (uint64_t)f;
        x->horizon = (uint64_t)h;
        snprintf(x->name, sizeof x->name, "%s", name ? name : "?");
        memcpy(x->pinned, sha, 65);
        x->found = 1;
    }
    json_decref(b);
    return 0;
}

static int
run_again(struct ldg_ledger *l, const struct ldg_prune_opts *o,
          struct ldg_prune_report *r)
{
    struct pruned_find x;
    struct ldg_horizon hz;
    char hex[65], pinned[65], by[300];
    int rc;

    memset(&x, 0, sizeof x);
    if ((rc = file_sha256(o->archive, r->archive_sha256)) < 0) {
        ldg_set_errmsg(l, "archive %s: cannot be read (%s)", o->archive,
                       ldg_strerror(rc));
        return rc;
    }
    ldg_hex(hex, r->archive_sha256, 32);
    x.hex = hex;
    x.last = r->h.horizon - 1;
    if ((rc = ldg_horizon(l, &hz)) < 0)
        return rc;
    /* the ledger.pruned events kept name their archives (the latest
     * prune's is always kept: it is after its horizon) */
    rc = ldg_txn_begin(l, LDG_TXN_READ, &x.t);
    if (rc == 0)
        rc = ldg_index_walk(x.t, LDG_INDEX_TYPE, LDG_EV_LEDGER_PRUNED, 0,
                            UINT64_MAX, 0, pruned_find_one, &x);
    ldg_txn_abort(x.t);
    if (rc < 0 && rc != LDG_ENOTFOUND) {
        ldg_horizon_release(&hz);
        return rc;
    }
    ldg_hex(pinned, hz.archive, 32);
    if (hz.first <= x.last && x.last < hz.seq) {
        /* the latest prune's: the horizon record pins its archive (and a
         * ledger.pruned names it, unless a crash stopped that prune
         * between its steps) */
        snprintf(by, sizeof by, "as the horizon record pins it%s%s",
                 x.found && strcmp(x.pinned, pinned) == 0 ? ", " : "",
                 x.found && strcmp(x.pinned, pinned) == 0 ? x.name : "");
        x.found = 1;
        x.first = hz.first;
        x.horizon = hz.seq;
        memcpy(x.pinned, pinned, sizeof pinned);
    } else {
        snprintf(by, sizeof by, "as ledger.pruned seq %llu names it, %s",
                 (unsigned long long)x.seq, x.name);
    }
    if (x.found && strcmp(x.pinned, hex) == 0) {
        snprintf(r->why, sizeof r->why,
                 "nothing to prune before %s: events %llu..%llu were pruned "
                 "already, into this archive (%s, SHA-256 %s, %s)",
                 o->before, (unsigned long long)x.first,
                 (unsigned long long)(x.horizon - 1), o->archive, hex, by);
        r->already = 1;
        rc = 0;
    } else if (x.found) {
        ldg_set_errmsg(l,
                       "archive %s (SHA-256 %s) is not the archive of the "
                       "events before %s, which were pruned already: events "
                       "%llu..%llu went into the archive with SHA-256 %s "
                       "(%s); nothing pruned",
                       o->archive, hex, o->before, (unsigned long long)x.first,
                       (unsigned long long)(x.horizon - 1), x.pinned, by);
        rc = LDG_ETAMPER;
    } else {
        char vkey[512];
        if (ldg_verifier_key(l, vkey, sizeof vkey) < 0)
            snprintf(vkey, sizeof vkey, "VKEY");
        ldg_set_errmsg(l,
                       "archive %s (SHA-256 %s): the log keeps no record of "
                       "the archive of event %llu (the ledger.pruned event "
                       "that named it was pruned too; the last prune took "
                       "events %llu..%llu into the archive with SHA-256 "
                       "%s): check it with `" LDG_CMD_VERIFY_BUNDLE_KEY
                       "`; nothing pruned",
                       o->archive, hex, (unsigned long long)x.last,
                       (unsigned long long)hz.first,
                       (unsigned long long)(hz.seq - 1), pinned, vkey,
                       o->archive);
        rc = LDG_ETAMPER;
    }
    ldg_horizon_release(&hz);
    return rc;
}

/* Events the first step of a prune removes at most: a prune is made in
 * steps of a commit each, every one leaving a ledger pruned at a commit's
 * end, so that no transaction grows past what LMDB holds (MDB_TXN_FULL);
 * a step found too large is halved. */
#define PRUNE_STEP_EVENTS 65536

/* One step: prunes from the ledger's first event up to a commit's end at
 * most span events on (or the next commit's end when none is), or to the
 * horizon, with the ledger.pruned event when it reaches the horizon.
 * *step gets the step's end; *single is 1 when that step is one commit. */
static int
prune_step(struct ldg_ledger *l, const struct ldg_prune_opts *o,
           struct ldg_prune_report *r, uint64_t arch_first, const char *note,
           uint64_t now, uint64_t span, uint64_t *step, int *single)
{
    struct ldg_batch *b = NULL;
    struct ldg_txn *t;
    struct ldg_prune_stats st;
    struct ldg_retention_horizon again;
    struct ldg_event_in in;
    uint8_t state[32];
    char hex[65], until[40];
    uint64_t n, hz = r->h.horizon;
    json_t *body = NULL;
    int rc;

    *single = 0;
    if ((rc = ldg_batch_begin(&b, l)) < 0)
        return rc;
    if ((rc = ldg_batch_txn(b, &t)) < 0)
        goto out;
    /* the archive was checked against the log as it was then: a prune
     * of another process since moves the first event */
    if ((rc = ldg_retention_resolve(l, o->before, now, &again)) < 0 ||
        again.first != r->h.first + r->events || again.horizon != hz) {
        if (rc == 0) {
            ldg_set_errmsg(l, "the ledger was pruned meanwhile: run "
                              "again");
            rc = LDG_EBUSY;
        }
        goto out;
    }
    *step = hz;
    if (hz - again.first > span) {
        rc = ldg_checkpoint_floor(t, again.first + span, step);
        if (rc == LDG_ENOTFOUND || (rc == 0 && *step <= again.first)) {
            /* one commit holds more than span events: that commit */
            rc = ldg_checkpoint_ceil(t, again.first + 1, step);
            *single = 1;
        }
        if (rc < 0)
            goto out;
        if (*step > hz)
            *step = hz;
    }
    /* the archive's note is for the state at the horizon (a step short of
     * it keeps the note signed at its end, or one signed now) */
    if ((rc = ldg_projections_horizon(t, *step, *step == hz ? note : NULL,
                                      state)) < 0) {
        if (ldg_errmsg(l)[0] == '\0')
            ldg_set_errmsg(l, "the projections' state at the horizon: %s",
                           ldg_strerror(rc));
        goto out;
    }
    if ((rc = ldg_prune_txn(t, *step, r->archive_sha256, state, now, &st)) < 0)
        goto out;
    if (*step < hz) {
        rc = ldg_batch_commit_changes(b);
    } else {
        ldg_hex(hex, r->archive_sha256, 32);
        ldg_time_rfc3339_ns(until, sizeof until, r->h.until_ns);
        body =
            json_pack("{s:I, s:I, s:I, s:s, s:s, s:s}", "horizon",
                      (json_int_t)hz, "first", (json_int_t)arch_first, "events",
                      (json_int_t)(hz - arch_first), "archive_sha256", hex,
                      "until", until, "archive", base_name(o->archive));
        if (body == NULL) {
            rc = LDG_ENOMEM;
            goto out;
        }
        memset(&in, 0, sizeof in);
        in.type = LDG_EV_LEDGER_PRUNED;
        in.subject = "ledger:retention";
        in.body = body;
        if ((rc = ldg_batch_add_pruned(b, &in, &r->pruned_seq)) < 0)
            goto out;
        rc = ldg_batch_commit(b, NULL, &n);
    }
    if (rc == 0) {
        r->events += st.to - st.from;
        r->entries += st.entries;
        r->bodies += st.bodies;
        r->seals += st.seals;
        r->index_keys += st.index_keys;
        r->tiles += st.tiles;
        r->steps++;
    }
out:
    if (rc < 0)
        ldg_batch_fail(b, rc);
    json_decref(body);
    ldg_batch_free(b); /* (after LDG_EFULL, grows the map) */
    return rc;
}

int
ldg_retention_prune(struct ldg_ledger *l, const struct ldg_prune_opts *o,
                    struct ldg_prune_report *r)
{
    uint64_t now, arch_first, span = PRUNE_STEP_EVENTS, step = 0;
    char *note = NULL;
    int rc, single = 0, grown = 0;

    if (l == NULL || o == NULL || r == NULL || o->archive == NULL ||
        o->before == NULL)
        return LDG_EINVAL;
    memset(r, 0, sizeof *r);
    now = o->now_ns ? o->now_ns : ldg_now_wall_ns();
    /* first: a run again after the prune answers "pruned already" only
     * of an archive that is there */
    if ((rc = archive_readable(l, o->archive)) < 0)
        return rc;
    rc = ldg_retention_resolve(l, o->before, now, &r->h);
    /* run again: what was asked for rounds down to a commit at or before
     * the horizon (a --before TIME asked again asks past it, with no
     * commit ending in between); the archive is compared all the same */
    if (rc == LDG_ENOTFOUND && r->h.first > 0 && r->h.horizon > 0 &&
        r->h.horizon <= r->h.first)
        return run_again(l, o, r);
    if (rc < 0)
        return rc;
    if (o->keep_days > 0 && !o->force &&
        r->h.until_ns + (uint64_t)o->keep_days * 86400u * 1000000000u > now) {
        char t1[40];
        ldg_time_when(t1, sizeof t1, r->h.until_ns);
        ldg_set_errmsg(l,
                       "events %llu..%llu reach %s, younger than the "
                       "retention minimum of %u days (keep_days: "
                       "DIR/retention.json, 180 when it has none): nothing "
                       "pruned; " LDG_OPT_FORCE " prunes them anyway",
                       (unsigned long long)r->h.first,
                       (unsigned long long)(r->h.horizon - 1), t1,
                       o->keep_days);
        return LDG_EINVAL;
    }
    if ((rc = check_archive(l, &r->h, o->archive, &note, r->archive_sha256,
                            &arch_first)) < 0)
        return rc;
    r->continued = arch_first < r->h.first;
    r->used_before = used_bytes(l);
    /* the counts of the events about to go, before they go */
    if ((rc = ldg_metrics_catch_up(l, r->metrics_note,
                                   sizeof r->metrics_note)) < 0 &&
        r->metrics_note[0] == '\0')
        snprintf(r->metrics_note, sizeof r->metrics_note, "%s",
                 ldg_strerror(rc));
    /* in steps of a commit each (a crash between two leaves a ledger
     * pruned at the first one's end, which verifies, and this prune run
     * again goes on from there with the same archive) */
    while (step < r->h.horizon) {
        rc = prune_step(l, o, r, arch_first, note, now, span, &step, &single);
        /* the pages a step read (every entry, body and index page of its
         * events) leave this process: its resident size stays a step's */
        ldg_access_hint(l, LDG_ACCESS_RELEASE);
        if (rc == LDG_ETXNFULL && !single && span > 1) {
            span /= 2; /* nothing of the step was written */
            step = 0;
            continue;
        }
        if (rc == LDG_EFULL && grown++ < 3) {
            step = 0; /* the map was grown: the same step again */
            continue;
        }
        if (rc == LDG_ETXNFULL && r->events > 0)
            ldg_set_errmsg(l,
                           "the commit that ends at event %llu is too large "
                           "to remove in one transaction (LMDB's limit of "
                           "changed pages, MDB_TXN_FULL; not a full disk): "
                           "events %llu..%llu are pruned, the rest is not",
                           (unsigned long long)(step - 1),
                           (unsigned long long)r->h.first,
                           (unsigned long long)(r->h.first + r->events - 1));
        else if (rc == LDG_ETXNFULL)
            ldg_set_errmsg(l,
                           "the commit that ends at event %llu is too large "
                           "to remove in one transaction (LMDB's limit of "
                           "changed pages, MDB_TXN_FULL; not a full disk): "
                           "nothing pruned",
                           (unsigned long long)(step - 1));
        if (rc < 0)
            break;
    }
    free(note);
    if (rc == 0)
        r->used_after = used_bytes(l);
    return rc;
}

/* ------------------------------------------------------------- policy -- */

/* mkdir -p dir (0750). */
static int
mkdir_p(struct ldg_ledger *l, const char *dir)
{
    char buf[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof buf) {
        ldg_set_errmsg(l, "archive directory '%s': not a usable path", dir);
        return LDG_EINVAL;
    }
    memcpy(buf, dir, n + 1);
    if (ldg_mkdir_p(buf, 0, 1, 0750, NULL, NULL) < 0) {
        int e = errno;
        ldg_set_errmsg(l, "archive directory %s: cannot create %s: %s", dir,
                       buf, strerror(e));
        return e == ENOSPC || e == EIO ? LDG_EIO : LDG_EEXIST;
    }
    return 0;
}

/* An exclusive lock on DIR/.prune.lock, waited for: the fd, or < 0. */
static int
lock_dir(struct ldg_ledger *l, const char *dir)
{
    char path[4200];
    int fd;
    snprintf(path, sizeof path, "%s/.prune.lock", dir);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        int e = errno;
        ldg_set_errmsg(l, "archive directory %s: cannot create %s: %s", dir,
                       path, strerror(e));
        return e == ENOSPC || e == EIO ? LDG_EIO : LDG_EEXIST;
    }
    while (flock(fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            ldg_set_errmsg(l, "%s: lock: %s", path, strerror(errno));
            close(fd);
            return LDG_EIO;
        }
    }
    return fd;
}

/* Removes DIR/ledger-*.bundle.tmp.* : archives a killed run was writing
 * (a whole archive is linked to its name only once written and synced). */
static void
remove_partials(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "ledger-", 7) == 0 &&
            (strstr(e->d_name, ".bundle.tmp.") != NULL ||
             strstr(e->d_name, ".segment.tmp.") != NULL))
            unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
}

/* The horizon of the next part from cur: at most p->archive_events
 * events, or, when one commit holds more, that commit alone. */
static int
part_end(struct ldg_ledger *l, const struct ldg_retention_policy *p,
         const struct ldg_retention_horizon *cur, uint64_t *hz)
{
    struct ldg_retention_horizon step;
    uint64_t lo, hi;
    int rc;

    *hz = cur->horizon;
    if (p->archive_events == 0 ||
        cur->horizon - cur->first <= p->archive_events)
        return 0;
    rc = resolve(l, "", 0, cur->first + p->archive_events, &step);
    if (rc == 0 && step.horizon > cur->first) {
        *hz = step.horizon;
        return 0;
    }
    if (rc < 0 && rc != LDG_ENOTFOUND)
        return rc;
    /* the first commit end after cur->first: the smallest x with a
     * commit ending in (first, x] (binary search; horizons only grow) */
    lo = cur->first + p->archive_events + 1;
    hi = cur->horizon;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        LDG_ASSERT(lo <= mid && mid < hi);
        rc = resolve(l, "", 0, mid, &step);
        if (rc < 0 && rc != LDG_ENOTFOUND)
            return rc;
        if (rc == 0 && step.horizon > cur->first)
            hi = mid;
        else
            lo = mid + 1;
    }
    if ((rc = resolve(l, "", 0, hi, &step)) < 0)
        return rc;
    *hz = step.horizon;
    return 0;
}

/* The archive of a prune a crash stopped between two of its steps (the
 * horizon record names an archive that holds events past the horizon):
 * DIR/ledger-FIRST-LAST.segment (or .bundle, as written before segments)
 * with FIRST the record's first, LAST at or
 * past cur's first and before want, and the SHA-256 the record pins. 1
 * with its path and its end in *hz; 0 when there is none. */
static int
interrupted_archive(struct ldg_ledger *l, const struct ldg_retention_policy *p,
                    const struct ldg_retention_horizon *cur, uint64_t want,
                    char *path, size_t cap, uint64_t *hz)
{
    struct ldg_horizon rec;
    struct dirent *e;
    char prefix[40], cand[4400];
    uint8_t sha[32];
    int found = 0, n;
    DIR *d;

    if (cur->first == 0 || ldg_horizon(l, &rec) < 0)
        return 0;
    if (rec.first >= cur->first || (d = opendir(p->archive_dir)) == NULL) {
        ldg_horizon_release(&rec);
        return 0;
    }
    snprintf(prefix, sizeof prefix, "ledger-%llu-",
             (unsigned long long)rec.first);
    while (!found && (e = readdir(d)) != NULL) {
        const char *q = e->d_name + strlen(prefix);
        char *end;
        unsigned long long last;
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 || *q < '0' ||
            *q > '9')
            continue;
        errno = 0;
        last = strtoull(q, &end, 10);
        if (errno != 0 ||
            (strcmp(end, ".segment") != 0 && strcmp(end, ".bundle") != 0) ||
            last < cur->first || last >= want)
            continue;
        n = snprintf(cand, sizeof cand, "%s/%s", p->archive_dir, e->d_name);
        if (n < 0 || (size_t)n >= cap)
            continue;
        if (file_sha256(cand, sha) == 0 && memcmp(sha, rec.archive, 32) == 0) {
            memcpy(path, cand, (size_t)n + 1);
            *hz = last + 1;
            found = 1;
        }
    }
    closedir(d);
    ldg_horizon_release(&rec);
    return found;
}

/* Archives and prunes up to want->horizon in parts, under the lock. */
static int
apply_parts(struct ldg_ledger *l, const struct ldg_retention_policy *p,
            int force, uint64_t now_ns,
            const struct ldg_retention_horizon *want,
            struct ldg_policy_report *r)
{
    struct ldg_archive_opts ao;
    struct ldg_prune_opts po;
    char spec[32];
    int rc;

    /* an archive at most p->archive_events events (its writer and its
     * checks hold 3 and 12 KiB an event: docs/RETENTION.md), one prune each */
    r->first = want->first;
    for (;;) {
        struct ldg_retention_horizon cur;
        uint64_t hz;
        rc = resolve(l, "", 0, want->horizon, &cur);
        if (rc == LDG_ENOTFOUND || (rc == 0 && cur.horizon <= cur.first))
            break;
        if (rc < 0)
            return rc;
        if (r->pruned == 0)
            r->first = cur.first; /* (a run before this one took some) */
        if ((rc = part_end(l, p, &cur, &hz)) < 0)
            return rc;
        snprintf(r->archive, sizeof r->archive, "%s/ledger-%llu-%llu.segment",
                 p->archive_dir, (unsigned long long)cur.first,
                 (unsigned long long)(hz - 1));
        /* a prune of this policy that a crash stopped between two of its
         * steps goes on with its archive */
        interrupted_archive(l, p, &cur, want->horizon + 1, r->archive,
                            sizeof r->archive, &hz);
        snprintf(spec, sizeof spec, "%llu", (unsigned long long)hz);
        memset(&po, 0, sizeof po);
        po.before = spec;
        po.archive = r->archive;
        po.keep_days = p->keep_days;
        po.force = force;
        po.now_ns = now_ns;
        /* an archive a crash left behind is checked like any by the
         * prune; one that fails its check is set aside (kept, renamed)
         * and written again */
        if (access(r->archive, F_OK) == 0) {
            rc = ldg_retention_prune(l, &po, &r->pr);
            if (rc != LDG_ETAMPER && rc != LDG_EBADINPUT)
                goto pruned;
            snprintf(r->set_aside, sizeof r->set_aside, "%s.rejected.%llu",
                     r->archive, (unsigned long long)(now_ns / 1000000000u));
            snprintf(r->set_aside_why, sizeof r->set_aside_why, "%s",
                     ldg_errmsg(l));
            if (rename(r->archive, r->set_aside) < 0) {
                ldg_set_errmsg(l,
                               "%s failed its check and cannot be moved "
                               "aside (%s): %s",
                               r->archive, strerror(errno), r->set_aside_why);
                return LDG_EIO;
            }
        }
        memset(&ao, 0, sizeof ao);
        ao.before = spec;
        ao.out = r->archive;
        if ((rc = ldg_retention_archive(l, &ao, &r->ar)) < 0)
            return rc;
        r->archived++;
        rc = ldg_retention_prune(l, &po, &r->pr);
        /* one just written that fails its check is removed (the next run
         * would only set it aside and write it again, run after run) */
        if (rc == LDG_ETAMPER || rc == LDG_EBADINPUT)
            unlink(r->archive);
    pruned:
        if (rc < 0)
            return rc;
        if (r->pr.already)
            break; /* (pruned meanwhile, with this archive) */
        r->pruned++;
        r->events += r->pr.events;
        if (hz >= want->horizon)
            break;
    }
    return 0;
}

int
ldg_retention_apply(struct ldg_ledger *l, const struct ldg_retention_policy *p,
                    int force, uint64_t now_ns, struct ldg_policy_report *r)
{
    struct ldg_retention_horizon age, want;
    uint64_t keep_ns, cutoff, used, removable;
    int rc, lockfd;

    if (l == NULL || p == NULL || r == NULL)
        return LDG_EINVAL;
    memset(r, 0, sizeof *r);
    if (now_ns == 0)
        now_ns = ldg_now_wall_ns();
    keep_ns = (uint64_t)p->keep_days * 86400u * 1000000000u;
    cutoff = now_ns > keep_ns ? now_ns - keep_ns : 0;
    r->used = used = used_bytes2(l, &removable);
    /* by age: the events older than keep_days */
    rc = resolve(l, "the retention minimum", 1, cutoff, &age);
    if (rc < 0 && rc != LDG_ENOTFOUND)
        return rc;
    if (rc == LDG_ENOTFOUND)
        age.horizon = 0;
    want = age;
    /* by the disk budget: as many of the oldest events as hold the excess,
     * at the bytes a prune removes an event on average (its records: its
     * tree hashes, the checkpoints and the state stay) */
    if (p->disk_budget > 0 && used > p->disk_budget) {
        struct ldg_retention_horizon b;
        uint64_t kept, per, need;
        rc = resolve(l, "the disk budget", 0, 0, &b);
        if (rc < 0 && rc != LDG_ENOTFOUND)
            return rc;
        kept = b.size - b.first;
        per = kept ? removable / kept : 0;
        need = per ? (used - p->disk_budget + per - 1) / per : 0;
        r->over_budget = used - p->disk_budget;
        if (need > 0 && b.first + need > age.horizon) {
            /* to a commit's end: the last at or before the need, or when
             * that is none, the first after it (an excess smaller than a
             * commit still prunes one) */
            uint64_t target = b.first + need, end;
            rc = resolve(l, "the disk budget", 0, target, &b);
            if (rc == LDG_ENOTFOUND && target < b.size) {
                struct ldg_txn *t;
                if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
                    return rc;
                rc = ldg_checkpoint_ceil(t, target + 1, &end);
                ldg_txn_abort(t);
                if (rc == 0)
                    rc = resolve(l, "the disk budget", 0, end, &b);
            }
            if (rc < 0 && rc != LDG_ENOTFOUND)
                return rc;
            if (rc == 0 && b.horizon > age.horizon) {
                if (!force) {
                    char t1[40];
                    ldg_time_when(t1, sizeof t1, b.until_ns);
                    snprintf(
                        r->budget_why, sizeof r->budget_why,
                        "the disk budget (%llu bytes; %llu in use) needs "
                        "events %llu..%llu pruned, up to %s, younger "
                        "than the retention minimum of %u days: only "
                        "the older ones are; " LDG_OPT_FORCE " prunes to the "
                        "budget",
                        (unsigned long long)p->disk_budget,
                        (unsigned long long)used, (unsigned long long)b.first,
                        (unsigned long long)(b.horizon - 1), t1, p->keep_days);
                    r->budget_refused = 1;
                } else {
                    want = b;
                }
            }
        }
    }
    if (want.horizon == 0 || want.horizon <= want.first) {
        int n = snprintf(r->why, sizeof r->why,
                         "nothing to prune: no commit of the log ends before "
                         "%u days ago (the retention minimum)",
                         p->keep_days);
        if (p->disk_budget > 0 && used <= p->disk_budget && n > 0 &&
            (size_t)n < sizeof r->why)
            snprintf(r->why + n, sizeof r->why - (size_t)n,
                     ", and the store is within its disk budget (%llu of "
                     "%llu bytes in use)",
                     (unsigned long long)used,
                     (unsigned long long)p->disk_budget);
        r->over_budget_after = r->over_budget;
        return 0;
    }
    if ((rc = mkdir_p(l, p->archive_dir)) < 0)
        return rc;
    /* one policy run at a time: a second waits, then finds the work done;
     * what a killed one left half-written is removed */
    if ((lockfd = lock_dir(l, p->archive_dir)) < 0)
        return lockfd;
    remove_partials(p->archive_dir);
    rc = apply_parts(l, p, force, now_ns, &want, r);
    close(lockfd); /* (and with it the lock) */
    if (rc == 0 && r->pruned > 0 && p->disk_budget > 0) {
        uint64_t after = used_bytes2(l, &removable);
        if (after > p->disk_budget)
            r->over_budget_after = after - p->disk_budget;
        r->kept_for_all = after - removable;
    }
    if (rc == 0 && r->pruned == 0)
        snprintf(r->why, sizeof r->why,
                 "nothing to prune: the events before %llu were pruned "
                 "meanwhile (by another run)",
                 (unsigned long long)want.horizon);
    return rc;
}
