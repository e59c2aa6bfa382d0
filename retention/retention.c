/*
 * retention.c — archive and prune (retention.h, docs/RETENTION.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "export/export.h"
#include "metrics/metrics.h"
#include "projections/projections.h"
#include "query/query.h"
#include "retention/retention.h"
#include "util/util.h"
#include "retention/retention_int.h"

int
ret_resolve(struct ldg_ledger *l, const char *before, int by_time, uint64_t v,
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
    return rc == 1 ? ret_resolve(l, before, 0, seq, h)
                   : ret_resolve(l, before, 1, ns, h);
}

int
ret_file_sha256(const char *path, uint8_t out[32])
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
    if ((rc = ret_file_sha256(o->out, r->sha256)) < 0)
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

uint64_t
ret_used_bytes2(struct ldg_ledger *l, uint64_t *removable)
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
    return ret_used_bytes2(l, NULL);
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
    if ((rc = ret_file_sha256(o->archive, r->archive_sha256)) < 0) {
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
    *step = 0; /* (0 until chosen: a failure before says so) */
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
    if ((rc = ret_archive_readable(l, o->archive)) < 0)
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
    if ((rc = ret_check_archive(l, &r->h, o->archive, &note, r->archive_sha256,
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
        if (rc == LDG_ETXNFULL && step == 0) {
            /* before a step was chosen: the batch's start, which applies
             * the intake log's unapplied tail (store layout 9) */
            char done[80] = "nothing pruned";
            if (r->events > 0)
                snprintf(done, sizeof done,
                         "events %llu..%llu are pruned, the rest is not",
                         (unsigned long long)r->h.first,
                         (unsigned long long)(r->h.first + r->events - 1));
            ldg_set_errmsg(l,
                           "applying the intake log's unapplied events to "
                           "the store before the prune is too large for one "
                           "transaction (LMDB's limit of changed pages, "
                           "MDB_TXN_FULL; not a full disk): %s",
                           done);
        } else if (rc == LDG_ETXNFULL && r->events > 0)
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
