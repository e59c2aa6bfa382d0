/*
 * segment.c — segments on the export side (export.h): writing one to a
 * file as an archive must be (unnamed beside its path, synced, linked into
 * place, the directory synced), verify-bundle's report of one, and the readers'
 * pass over its events as events.jsonl would give them. The format is
 * ledger/'s (ledger/segment.c, docs/FORMAT.md section 11).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "export/export_int.h"
#include "export/verify_int.h"
#include "projections/projections.h"
#include "query/query.h"
#include "util/util.h"

/* ------------------------------------------------------------ writing -- */

/* fsync of the directory that holds path: a link made there is durable
 * only then. */
static int
sync_dir_of(const char *path)
{
    char *copy = strdup(path);
    int fd, rc = 0;
    if (copy == NULL)
        return LDG_ENOMEM;
    fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return LDG_EIO;
    if (fsync(fd) < 0 && errno != EINVAL)
        rc = LDG_EIO;
    close(fd);
    return rc;
}

int
ldg_export_segment_state(struct ldg_ledger *l, uint64_t end, char **text,
                         char **note)
{
    json_t *state = NULL;
    int rc;

    if (l == NULL || text == NULL || note == NULL)
        return LDG_EINVAL;
    *text = NULL;
    if ((rc = ldg_projections_horizon_state(l, end, &state, note)) < 0)
        return rc;
    if ((*text = json_dumps(state, JSON_COMPACT)) == NULL) {
        free(*note);
        *note = NULL;
        rc = LDG_ENOMEM;
    }
    json_decref(state);
    return rc;
}

static int
write_segment(struct ldg_ledger *l, const struct ldg_export_segment_opts *o,
              const char *path, struct ldg_segment_info *info)
{
    struct ldg_segment_write_opts wo;
    char *note = NULL, *text = NULL, *tmp = NULL;
    size_t n;
    int fd = -1, rc;
    unsigned long oom = ldg_alloc_failures();

    if (info != NULL)
        memset(info, 0, sizeof *info);
    if (l == NULL || o == NULL || path == NULL || *path == '\0' ||
        o->end <= o->first)
        return LDG_EINVAL;
    if ((rc = ldg_export_out_check(l, path, 1)) < 0)
        return rc;
    memset(&wo, 0, sizeof wo);
    wo.first = o->first;
    wo.end = o->end;
    wo.level = o->level;
    wo.progress = o->progress;
    wo.progress_ctx = o->progress_ctx;
    wo.snapshot = o->snapshot;
    wo.snapshot_ctx = o->snapshot_ctx;
    if (o->with_state) {
        /* the state the first `end` events fold to now, and a note signed
         * for exactly it (FORMAT.md 6.2) */
        if (o->snapshot != NULL) /* (read in one snapshot of its own) */
            o->snapshot(o->snapshot_ctx, 1);
        rc = ldg_export_segment_state(l, o->end, &text, &note);
        if (o->snapshot != NULL)
            o->snapshot(o->snapshot_ctx, 0);
        if (rc < 0)
            goto out;
        wo.state = text;
        wo.state_len = strlen(text);
        wo.state_note = note;
        wo.state_note_len = strlen(note);
    }
    n = strlen(path) + 16;
    if ((tmp = malloc(n)) == NULL) {
        rc = LDG_ENOMEM;
        goto out;
    }
    snprintf(tmp, n, "%s.tmp.XXXXXX", path);
    /* unnamed (a kill leaves nothing), else NAME.tmp.XXXXXX, locked while
     * it is written (a killed writer's is removed by the next) */
    if ((fd = export_open_unnamed(path)) >= 0) {
        tmp[0] = '\0';
    } else if ((fd = export_open_named_tmp(path, tmp)) < 0) {
        int e = errno; /* (named as asked: the temporary name is ours) */
        ldg_set_errmsg(l, "cannot create %s: %s", path, strerror(e));
        free(tmp);
        tmp = NULL;
        rc =
            e == ENOSPC || e == EIO || e == EDQUOT || e == EMFILE || e == ENFILE
                ? LDG_EIO
                : LDG_EEXIST;
        goto out;
    }
    ldg_set_errmsg(l, "%s", "");
    rc = ldg_segment_write(l, &wo, fd, info);
    /* a segment written while memory ran out may lack what a failed
     * allocation left out: not kept (ldg_alloc_failures) */
    if (rc == 0 && ldg_alloc_failures() != oom) {
        ldg_set_errmsg(l, "out of memory while writing the segment: "
                          "nothing written");
        rc = LDG_ENOMEM;
    }
    if (rc < 0) {
        if (ldg_errmsg(l)[0] == '\0')
            ldg_set_errmsg(l, "writing %s: %s", tmp[0] ? tmp : path,
                           ldg_strerror(rc));
        goto out;
    }
    if (fsync(fd) < 0) {
        ldg_set_errmsg(l, "%s: %s", tmp[0] ? tmp : path, strerror(errno));
        rc = LDG_EIO;
        goto out;
    }
    /* link() never replaces: a file that appeared meanwhile is kept */
    if ((tmp[0] ? link(tmp, path) : export_link_unnamed(fd, path)) < 0) {
        ldg_set_errmsg(l, "cannot create %s: %s", path, strerror(errno));
        rc = errno == EEXIST ? LDG_EEXIST : LDG_EIO;
        goto out;
    }
    if (close(fd) < 0) {
        fd = -1;
        ldg_set_errmsg(l, "%s: %s", path, strerror(errno));
        rc = LDG_EIO;
        unlink(path);
        goto out;
    }
    fd = -1;
    if (sync_dir_of(path) < 0) {
        ldg_set_errmsg(l, "%s: syncing its directory: %s", path,
                       strerror(errno));
        rc = errno == ENOMEM ? LDG_ENOMEM : LDG_EIO;
    }
out:
    if (fd >= 0)
        close(fd);
    if (tmp != NULL) {
        if (tmp[0])
            unlink(tmp);
        free(tmp);
    }
    if (rc < 0 && info != NULL)
        ldg_segment_info_release(info);
    free(note);
    free(text);
    return rc;
}

int
ldg_export_segment(struct ldg_ledger *l,
                   const struct ldg_export_segment_opts *o, const char *path,
                   struct ldg_segment_report *r)
{
    struct ldg_segment_info info;
    int rc;

    if (r != NULL)
        memset(r, 0, sizeof *r);
    rc = write_segment(l, o, path, &info);
    if (rc == 0 && r != NULL) {
        r->first = info.first;
        r->end = info.end;
        r->events = info.events;
        r->checkpoint_size = info.checkpoint_size;
        r->erased = info.erased;
        r->prior = info.prior;
        r->after = info.after;
        r->has_state = info.has_state;
        r->bytes = info.file_bytes;
        r->raw_bytes = info.raw_bytes;
        memcpy(r->sha256, info.sha256, 32);
    }
    ldg_segment_info_release(&info);
    return rc;
}

/* ---------------------------------------------------------- verifying -- */

static const char *const check_names[LDG_SEGCHK_COUNT] = {
    "archive", "segment", "log-key", "checkpoint", "horizon",
    "keys",    "chain",   "seals",   "bodies",     "erasures",
    "tree",    "state",   "trailer"};

/* What each check vouches for when it passes. */
static void
passed(struct ldg_bundle_report *r, enum ldg_segment_check c,
       const struct ldg_segment_result *s, int key_trusted)
{
    const struct ldg_segment_info *i = &s->info;
    const char *n = check_names[c];
    if (!s->ok && c != LDG_SEGCHK_HEADER && c != LDG_SEGCHK_LOG_KEY &&
        c != LDG_SEGCHK_CHECKPOINT && c != LDG_SEGCHK_HORIZON) {
        /* (a pass that stopped: its counts are not the segment's) */
        bv_check(r, n, LDG_CHECK_PASS,
                 "held for every record read before the failure below");
        return;
    }
    switch (c) {
    case LDG_SEGCHK_CONTAINER:
        bv_check(r, n, LDG_CHECK_PASS,
                 "a segment (ledger.segment/v1): one zstd frame of %" PRIu64
                 " bytes, %" PRIu64 " bytes of records",
                 i->file_bytes, i->raw_bytes);
        break;
    case LDG_SEGCHK_HEADER:
        bv_check(r, n, LDG_CHECK_PASS,
                 "events %" PRIu64 "..%" PRIu64 " of %s (ledger format %d)",
                 i->first, i->end - 1, i->origin, i->format);
        break;
    case LDG_SEGCHK_LOG_KEY:
        bv_check(r, n,
                 key_trusted == 1 || key_trusted == 2 ? LDG_CHECK_PASS
                                                      : LDG_CHECK_WARN,
                 key_trusted == 3
                     ? "the segment's own, not held to the trusted "
                       "checkpoint (the trusted-checkpoint check below)"
                 : key_trusted == 2
                     ? "the segment's log key, held to the trusted checkpoint "
                       "(the trusted-checkpoint check)"
                 : key_trusted ? "the segment's log key is the trusted key"
                               : "TAKEN ON TRUST from the segment itself "
                                 "(" LDG_OPT_INSECURE_TRUST_BUNDLE_KEY
                                 "): it proves only "
                                 "that the segment is consistent with itself");
        break;
    case LDG_SEGCHK_CHECKPOINT:
        if (i->ck_epoch > 0)
            bv_check(r, n, LDG_CHECK_PASS,
                     "signed by the log key, size %" PRIu64
                     ", and by its epoch %" PRIu32 ".%" PRIu32
                     " (certified from its anchor, checked at the range's "
                     "end)",
                     i->checkpoint_size, i->ck_period, i->ck_sub);
        else
            bv_check(r, n, LDG_CHECK_PASS,
                     "signed by the log key, size %" PRIu64 "%s",
                     i->checkpoint_size,
                     i->ck_epoch < 0
                         ? " (its epoch line not checked: the segment holds "
                           "no anchor of the log key, and none was pinned)"
                         : "");
        break;
    case LDG_SEGCHK_HORIZON:
        if (i->horizon != NULL)
            bv_check(r, n, LDG_CHECK_PASS,
                     "the horizon record of an earlier prune at %" PRIu64
                     " (signed by the log key) gives the keys and the chain "
                     "before event %" PRIu64,
                     i->horizon_seq, i->first);
        else
            bv_check(r, n, LDG_CHECK_SKIP, "none: the segment %s",
                     i->first == 0 ? "starts at the genesis"
                                   : "proves the keys before it by their "
                                     "events");
        break;
    case LDG_SEGCHK_KEYS:
        bv_check(r, n, LDG_CHECK_PASS,
                 "every event by a key valid at its seq whose roles allow "
                 "its type (%" PRIu64 " proven events before the range, "
                 "%" PRIu64 " after it)",
                 i->prior, i->after);
        break;
    case LDG_SEGCHK_CHAIN:
        bv_check(r, n, LDG_CHECK_PASS,
                 "%" PRIu64 " entries decode, in seq order, their times "
                 "increasing, each chained to the one before",
                 i->events);
        break;
    case LDG_SEGCHK_SEALS:
        if (i->format >= 2 && i->epoch_seals > 0)
            bv_check(r, n, LDG_CHECK_PASS,
                     "%" PRIu64 " seals cover every event, each's root its "
                     "events' claims, %" PRIu64 " signature checks; %" PRIu64
                     " seals by epoch keys certified from their anchors, "
                     "every event at or after its epoch's start",
                     i->seals, i->seal_checks, i->epoch_seals);
        else if (i->format >= 2)
            bv_check(r, n, LDG_CHECK_PASS,
                     "%" PRIu64 " seals cover every event, each's root its "
                     "events' claims, %" PRIu64 " signature checks",
                     i->seals, i->seal_checks);
        else
            bv_check(r, n, LDG_CHECK_PASS, "%" PRIu64 " signatures verify",
                     i->signatures);
        break;
    case LDG_SEGCHK_BODIES:
        bv_check(r, n, LDG_CHECK_PASS,
                 "%" PRIu64 " bodies match their commitments",
                 i->events - i->erased);
        break;
    case LDG_SEGCHK_ERASURES:
        bv_check(r, n, i->erased ? LDG_CHECK_PASS : LDG_CHECK_SKIP,
                 i->erased ? "%" PRIu64 " erased bodies, each named by a "
                             "proven body.erased"
                           : "no body erased",
                 i->erased);
        break;
    case LDG_SEGCHK_TREE:
        bv_check(r, n, LDG_CHECK_PASS,
                 "events %" PRIu64 "..%" PRIu64 " with the left edge give the "
                 "root of the tree of size %" PRIu64 "%s",
                 i->first, i->end - 1, i->end,
                 i->checkpoint_size > i->end
                     ? ", consistent with the checkpoint's"
                     : ": the checkpoint's");
        break;
    case LDG_SEGCHK_STATE:
        bv_check(r, n, i->has_state ? LDG_CHECK_PASS : LDG_CHECK_SKIP,
                 i->has_state ? "the projected state at %" PRIu64 " with its "
                                "projection note signed by the log key"
                              : "no projected state (%" PRIu64 ")",
                 i->end);
        break;
    case LDG_SEGCHK_TRAILER:
        bv_check(r, n, LDG_CHECK_PASS,
                 "signed by the log key: events %" PRIu64 "..%" PRIu64
                 ", checkpoint %" PRIu64 ", %s",
                 i->first, i->end - 1, i->checkpoint_size,
                 i->has_state ? "its state" : "no state");
        break;
    default:
        break;
    }
}

/* The report verify-bundle prints, from a segment's verification. */
static void
to_report(struct ldg_bundle_report *r, const struct ldg_segment_result *s,
          int rc, int key_trusted)
{
    const struct ldg_segment_info *i = &s->info;
    enum ldg_segment_check last = s->ok ? LDG_SEGCHK_COUNT : s->failed;

    r->readable = s->readable;
    r->segment = 1;
    /* (1 the trusted key, 2 held to the trusted checkpoint; 3 a trusted
     * checkpoint that is not the segment's, 0 none: not trusted) */
    r->key_trusted = key_trusted == 1 || key_trusted == 2;
    snprintf(r->origin, sizeof r->origin, "%s", i->origin);
    r->checkpoint_size = i->checkpoint_size;
    memcpy(r->checkpoint_root, i->root, 32);
    r->events = i->events + i->prior + i->after;
    r->selected = i->events;
    r->first_seq = r->sel_first = i->first;
    r->last_seq = r->sel_last = i->end ? i->end - 1 : 0;
    r->bodies_erased = i->erased;
    memcpy(r->sha256, i->sha256, 32);
    if (i->origin[0] != '\0')
        ldg_note_verifier(r->log_vkey, sizeof r->log_vkey, i->origin,
                          i->log_pub);
    for (int c = 0; c < LDG_SEGCHK_COUNT; c++) {
        if ((enum ldg_segment_check)c < last) {
            passed(r, (enum ldg_segment_check)c, s, key_trusted);
        } else if ((enum ldg_segment_check)c == last) {
            bv_check(r, check_names[c], LDG_CHECK_FAIL, "%s",
                     s->what[0] ? s->what : ldg_strerror(rc));
        } else {
            bv_check(r, check_names[c], LDG_CHECK_SKIP,
                     "not checked: the check above failed");
        }
    }
}

/* Is the checkpoint the caller trusts (o->trusted_checkpoint) the one
 * segment s ends at, signed by the key it carries? 0 yes; else -1, with
 * its size in *size (0 when it does not open with that key). */
static int
checkpoint_is_segments(const struct ldg_bundle_verify_opts *o,
                       const struct ldg_segment_result *s, uint64_t *size)
{
    char vkey[sizeof((struct ldg_bundle_report *)0)->log_vkey];
    char origin[LDG_ORIGIN_MAX + 1];
    uint8_t root[32];

    *size = 0;
    if (s->info.origin[0] == '\0')
        return -1;
    ldg_note_verifier(vkey, sizeof vkey, s->info.origin, s->info.log_pub);
    if (ldg_checkpoint_open(vkey, o->trusted_checkpoint,
                            o->trusted_checkpoint_len, origin, sizeof origin,
                            size, root) < 0) {
        *size = 0;
        return -1;
    }
    return strcmp(origin, s->info.origin) == 0 &&
                   *size == s->info.checkpoint_size &&
                   memcmp(root, s->info.root, 32) == 0
               ? 0
               : -1;
}

/* The caller's trust anchors as the segment's verifier takes them: the
 * trusted key, or a trusted checkpoint, which is one of its own (issue
 * 63: it was refused, 64): the segment is then verified with the key it
 * carries, and trusted only when its checkpoint, signed by that key, is
 * the trusted one byte for byte in what it commits to (origin, size,
 * root): every event of the segment is proven by that root. */
int
bv_segment_verify(int fd, const struct ldg_bundle_verify_opts *o,
                  struct ldg_bundle_report *r)
{
    struct ldg_segment_verify_opts so;
    struct ldg_segment_result *s;
    int rc, key_trusted = o->trusted_vkey != NULL, cp_ok = -1;
    uint64_t cp_size = 0;

    memset(r, 0, sizeof *r);
    r->ok = 1;
    if (o->trusted_vkey == NULL && !o->insecure_trust_bundle_key &&
        o->trusted_checkpoint == NULL) {
        bv_check(r, "log-key", LDG_CHECK_FAIL,
                 "no trust anchor: a segment is verified with the log's "
                 "verifier key (" LDG_OPT_TRUSTED_KEY
                 "; `" LDG_CMD_KEYS_VERIFIER "` on the "
                 "box that wrote it), a checkpoint of the log you trust "
                 "(" LDG_OPT_TRUSTED_CHECKPOINT
                 "), or with " LDG_OPT_INSECURE_TRUST_BUNDLE_KEY " "
                 "against the key it carries");
        return LDG_EKEY;
    }
    if (o->extract_dir != NULL) {
        bv_check(r, "archive", LDG_CHECK_FAIL,
                 LDG_OPT_EXTRACT
                 ": a segment is not a tar archive of members (its "
                 "events are read with `" LDG_CMD_QUERY_BUNDLE "`)",
                 "FILE");
        return LDG_EBADINPUT;
    }
    if ((s = calloc(1, sizeof *s)) == NULL)
        return LDG_ENOMEM;
    memset(&so, 0, sizeof so);
    so.trusted_vkey = o->trusted_vkey;
    so.anchors = o->anchors;
    so.nanchors = o->nanchors;
    if (o->limits.file_bytes > LDG_SEGMENT_RECORD_MAX)
        so.record_max = o->limits.file_bytes;
    so.raw_max = o->limits.total_bytes; /* (--max-bytes, when given) */
    rc = ldg_segment_verify_fd(fd, &so, s);
    if (rc == 0 && o->trusted_checkpoint != NULL)
        cp_ok = checkpoint_is_segments(o, s, &cp_size);
    /* the checkpoint alone anchors the key it was signed with */
    to_report(r, s, rc,
              key_trusted                     ? 1
              : cp_ok == 0                    ? 2
              : o->trusted_checkpoint != NULL ? 3
                                              : 0);
    if (rc == 0 && o->trusted_checkpoint != NULL) {
        /* a checkpoint the caller holds: it must be the segment's */
        uint64_t size = cp_size;
        if (cp_ok < 0) {
            bv_check(r, "trusted-checkpoint", LDG_CHECK_FAIL,
                     size == 0 ? "the trusted checkpoint does not verify with "
                                 "the segment's log key"
                               : "the trusted checkpoint (size %" PRIu64
                                 ") is not the segment's (size %" PRIu64 ")",
                     size, s->info.checkpoint_size);
            rc = LDG_ETAMPER;
        } else {
            bv_check(r, "trusted-checkpoint", LDG_CHECK_PASS,
                     "the segment's checkpoint is the trusted one (size "
                     "%" PRIu64 ")",
                     size);
            r->checkpoint_trusted = 1;
        }
    }
    if (rc == 0 && o->nwitness_keys > 0) {
        bv_check(r, "witnesses", LDG_CHECK_FAIL,
                 "a segment carries no cosigned checkpoint: the witness "
                 "policy (%zu keys) cannot be met",
                 o->nwitness_keys);
        rc = LDG_ETAMPER;
    }
    ldg_segment_info_release(&s->info);
    free(s);
    return rc;
}

/* ------------------------------------------------------------ reading -- */

/* A private copy of what the first pass verified: the second reads it,
 * so what is shown is what was verified even if the file changes. */
static int
copy_raw(void *ctx, const void *p, size_t n)
{
    return ldg_write_all(*(int *)ctx, p, n, 0);
}

static int
private_copy(void)
{
    const char *dir = getenv("TMPDIR");
    char path[4200];
    int fd;
    if (dir == NULL || *dir == '\0')
        dir = "/tmp";
    fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
    snprintf(path, sizeof path, "%s/ledger-segment-XXXXXX", dir);
    if ((fd = mkstemp(path)) >= 0)
        unlink(path);
    return fd;
}

struct names {
    struct {
        char id[LDG_KEYID_LEN + 1];
        char name[LDG_NAME_MAX + 1];
    } * k;
    size_t n, cap;
};

static void
names_add(struct names *nm, const char *id, const char *name)
{
    if (nm->n == nm->cap) {
        size_t cap = nm->cap ? 2 * nm->cap : 16;
        void *k = realloc(nm->k, cap * sizeof *nm->k);
        if (k == NULL)
            return;
        nm->k = k;
        nm->cap = cap;
    }
    LDG_ASSERT(nm->n < nm->cap);
    snprintf(nm->k[nm->n].id, sizeof nm->k[0].id, "%s", id);
    snprintf(nm->k[nm->n].name, sizeof nm->k[0].name, "%s", name);
    nm->n++;
}

static const char *
names_find(const struct names *nm, const char *id)
{
    for (size_t i = nm->n; i-- > 0;)
        if (strcmp(nm->k[i].id, id) == 0)
            return nm->k[i].name;
    return NULL;
}

struct each {
    int (*fn)(void *ctx, json_t *event);
    void *ctx;
    struct names names;
    struct ldg_buf b;
    char *body;
    size_t body_len, body_cap;
    int rc;
};

/* One event of a segment as events.jsonl gives it (docs/format-bundle.md
 * §5): the envelope, the key's name, the body or "erased". */
static int
each_event(void *ctx, const struct ldg_segment_event *se)
{
    struct each *x = ctx;
    const struct ldg_event *ev = se->ev;
    const char *name;
    json_t *j;
    int rc;

    if (se->body != NULL && (strcmp(ev->type, LDG_EV_KEY_ADDED) == 0 ||
                             strcmp(ev->type, LDG_EV_LEDGER_GENESIS) == 0)) {
        json_t *body = NULL;
        x->body_len = 0;
        if (ldg_body_record_json_append(NULL, se->body, se->body_len,
                                        LDG_SEGMENT_RECORD_MAX, &x->body,
                                        &x->body_len, &x->body_cap) == 0 &&
            (body = json_loadb(x->body, x->body_len, 0, NULL)) != NULL) {
            const char *id = json_string_value(json_object_get(body, "key_id"));
            const char *nm = json_string_value(json_object_get(body, "actor"));
            if (strcmp(ev->type, LDG_EV_LEDGER_GENESIS) == 0)
                names_add(&x->names, ev->actor, "log");
            else if (id != NULL && nm != NULL)
                names_add(&x->names, id, nm);
        }
        json_decref(body);
    }
    if (se->where != LDG_SEGMENT_RANGE)
        return 0; /* support: proves keys and erasures, not shown */
    x->b.len = 0;
    gb_envelope(&x->b, ev);
    if ((name = names_find(&x->names, ev->actor)) != NULL) {
        ldg_buf_puts(&x->b, ",\"actor_name\":");
        gb_jstr(&x->b, name);
    }
    if (se->body == NULL) {
        ldg_buf_puts(&x->b, ",\"erased\":true}");
    } else {
        x->body_len = 0;
        if ((rc = ldg_body_record_json_append(NULL, se->body, se->body_len,
                                              LDG_SEGMENT_RECORD_MAX, &x->body,
                                              &x->body_len, &x->body_cap)) < 0)
            return x->rc = rc;
        ldg_buf_puts(&x->b, ",\"body\":");
        ldg_buf_add(&x->b, x->body, x->body_len);
        ldg_buf_puts(&x->b, "}");
    }
    if (x->b.err)
        return x->rc = x->b.err;
    if ((j = json_loadb((const char *)x->b.p, x->b.len, 0, NULL)) == NULL)
        return x->rc = LDG_ENOMEM;
    rc = x->fn != NULL ? x->fn(x->ctx, j) : 0;
    json_decref(j);
    if (rc != 0)
        x->rc = rc;
    return rc;
}

/* ldg_export_each of a segment: verified in one pass (its bytes copied
 * aside as they are read), then read again from the copy. */
int
bv_segment_each(int fd, const struct ldg_bundle_verify_opts *o,
                struct ldg_bundle_report *r,
                int (*fn)(void *ctx, json_t *event), void *ctx,
                struct ldg_bundle_contents **out)
{
    struct ldg_segment_verify_opts so;
    struct ldg_segment_result *s = NULL;
    struct ldg_segment_info info;
    struct ldg_bundle_contents *c = NULL;
    struct each x;
    int copy = -1, rc;

    memset(&x, 0, sizeof x);
    memset(&info, 0, sizeof info);
    ldg_buf_init(&x.b, (size_t)1 << 30);
    if ((copy = private_copy()) < 0) {
        memset(r, 0, sizeof *r);
        bv_check(r, "archive", LDG_CHECK_FAIL,
                 "cannot make a private copy of the segment to read (TMPDIR): "
                 "%s",
                 strerror(errno));
        return LDG_EIO;
    }
    /* pass 1: verify, copying what is read */
    if ((s = calloc(1, sizeof *s)) == NULL) {
        rc = LDG_ENOMEM;
        goto out;
    }
    memset(&so, 0, sizeof so);
    so.trusted_vkey = o->trusted_vkey;
    so.anchors = o->anchors;
    so.nanchors = o->nanchors;
    so.raw = copy_raw;
    so.raw_ctx = &copy;
    if (o->limits.file_bytes > LDG_SEGMENT_RECORD_MAX)
        so.record_max = o->limits.file_bytes;
    so.raw_max = o->limits.total_bytes;
    if (o->trusted_vkey == NULL && !o->insecure_trust_bundle_key) {
        memset(r, 0, sizeof *r);
        bv_check(r, "log-key", LDG_CHECK_FAIL,
                 "no trust anchor: a segment is verified with the log's "
                 "verifier key (" LDG_OPT_TRUSTED_KEY ")");
        rc = LDG_EKEY;
        goto out;
    }
    memset(r, 0, sizeof *r);
    r->ok = 1;
    rc = ldg_segment_verify_fd(fd, &so, s);
    to_report(r, s, rc, o->trusted_vkey != NULL);
    if (rc < 0)
        goto out;
    /* the keys' names the horizon record gives */
    if (s->info.horizon != NULL) {
        struct ldg_horizon hz;
        if (ldg_horizon_parse(s->info.horizon, s->info.horizon_len, &hz) == 0) {
            for (size_t i = 0; i < hz.nkeys; i++)
                names_add(&x.names, hz.keys[i].key_id, hz.keys[i].name);
            ldg_horizon_release(&hz);
        }
    }
    /* pass 2: the copy's events */
    if (lseek(copy, 0, SEEK_SET) != 0) {
        rc = LDG_EIO;
        goto out;
    }
    x.fn = fn;
    x.ctx = ctx;
    memset(&so, 0, sizeof so);
    so.keep_state = 1;
    so.event = each_event;
    so.ctx = &x;
    if (o->limits.file_bytes > LDG_SEGMENT_RECORD_MAX)
        so.record_max = o->limits.file_bytes;
    rc = ldg_segment_read_fd(copy, &so, &info);
    if (x.rc != 0)
        rc = x.rc;
    if (rc != 0)
        goto out;
    if (out != NULL) {
        if ((c = calloc(1, sizeof *c)) == NULL) {
            rc = LDG_ENOMEM;
            goto out;
        }
        if (info.state != NULL &&
            (c->state = json_loadb(info.state, info.state_len, 0, NULL)) ==
                NULL) {
            /* (verified as a JSON object: only memory fails here) */
            rc = LDG_ENOMEM;
            goto out;
        }
        c->checkpoint_size = info.end; /* the state's, the range's end */
        snprintf(c->origin, sizeof c->origin, "%s", info.origin);
        *out = c;
        c = NULL;
    }
out:
    if (c != NULL)
        ldg_export_contents_free(c);
    if (s != NULL)
        ldg_segment_info_release(&s->info);
    free(s);
    ldg_segment_info_release(&info);
    ldg_buf_release(&x.b);
    free(x.body);
    free(x.names.k);
    close(copy);
    return rc;
}

/* ---------------------------------------------------- a range, selected -- */

/* "seq=A..B", "seq=A..", "seq=..B", "seq=N": 0 with [*lo, *hi], or -1. */
static int
seq_term(const char *t, uint64_t *lo, uint64_t *hi)
{
    const char *p = t + 4, *dots;
    char *end;
    if (strncmp(t, "seq=", 4) != 0 || *p == '\0')
        return -1;
    dots = strstr(p, "..");
    errno = 0;
    if (dots == NULL) {
        if (*p < '0' || *p > '9')
            return -1;
        *lo = *hi = strtoull(p, &end, 10);
        return errno == 0 && *end == '\0' ? 0 : -1;
    }
    if (dots > p) {
        if (*p < '0' || *p > '9')
            return -1;
        *lo = strtoull(p, &end, 10);
        if (errno != 0 || end != dots)
            return -1;
    }
    if (dots[2] != '\0') {
        if (dots[2] < '0' || dots[2] > '9')
            return -1;
        *hi = strtoull(dots + 2, &end, 10);
        if (errno != 0 || *end != '\0')
            return -1;
    }
    return *lo <= *hi ? 0 : -1;
}

int
ldg_export_segment_range(struct ldg_ledger *l, int nterms, char *const *terms,
                         const char *since, const char *until, uint64_t now_ns,
                         struct ldg_segment_range *r)
{
    struct ldg_txn *t = NULL;
    struct ldg_horizon hz;
    uint64_t size, kept = 0, s_ns = 0, u_ns = UINT64_MAX;
    char err[256];
    int rc;

    if (l == NULL || r == NULL || nterms < 0)
        return LDG_EINVAL;
    memset(r, 0, sizeof *r);
    if (nterms > 1 || (nterms == 1 && strncmp(terms[0], "seq=", 4) != 0)) {
        ldg_set_errmsg(
            l,
            LDG_OPT_SEGMENT
            " writes a contiguous range: one seq=A..B "
            "term and " LDG_OPT_SINCE_SHORT "/" LDG_OPT_UNTIL_SHORT
            " select it, and '%s' selects otherwise "
            "(a selection of events is a bundle: drop " LDG_OPT_SEGMENT ")",
            nterms > 1 ? terms[1] : terms[0]);
        return LDG_EBADINPUT;
    }
    if (since != NULL &&
        ldg_query_parse_time(since, now_ns, &s_ns, err, sizeof err) < 0) {
        ldg_set_errmsg(l, LDG_OPT_SINCE " %s: %s", since, err);
        return LDG_EBADINPUT;
    }
    if (until != NULL &&
        ldg_query_parse_time(until, now_ns, &u_ns, err, sizeof err) < 0) {
        ldg_set_errmsg(l, LDG_OPT_UNTIL " %s: %s", until, err);
        return LDG_EBADINPUT;
    }
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
        return rc;
    if ((rc = ldg_txn_size(t, &size)) < 0)
        goto out;
    rc = ldg_horizon_get(t, &hz);
    if (rc == 0) {
        kept = hz.seq;
        ldg_horizon_release(&hz);
    } else if (rc != LDG_ENOTFOUND) {
        goto out;
    }
    r->lo = kept;
    r->hi = size ? size - 1 : 0;
    if (nterms == 1 && seq_term(terms[0], &r->lo, &r->hi) < 0) {
        ldg_set_errmsg(l,
                       "'%s': not a range of seqs (seq=A..B, seq=A.., "
                       "seq=..B or seq=N)",
                       terms[0]);
        rc = LDG_EBADINPUT;
        goto out;
    }
    if (r->hi >= size)
        r->hi = size ? size - 1 : 0;
    if (size == 0 || r->lo > r->hi ||
        ((since != NULL || until != NULL) &&
         ldg_time_window(t, s_ns, u_ns, &r->lo, &r->hi) == 1)) {
        ldg_set_errmsg(l, "no event of the log is in that range");
        rc = LDG_ENOTFOUND;
        goto out;
    }
    if (r->lo < kept) {
        ldg_set_errmsg(l,
                       "the range reaches before the ledger's horizon "
                       "(events 0..%llu were pruned, into archives): select "
                       "from event %llu on",
                       (unsigned long long)(kept - 1),
                       (unsigned long long)kept);
        rc = LDG_EPRUNED;
        goto out;
    }
    /* out to the commits that hold its ends: a segment starts and ends
     * where a commit does (no seal spans it) */
    rc = ldg_checkpoint_floor(t, r->lo, &r->first);
    if (rc == LDG_ENOTFOUND)
        r->first = 0, rc = 0;
    if (rc == 0)
        rc = ldg_checkpoint_ceil(t, r->hi + 1, &r->end);
    if (rc == 0 && r->first < kept)
        r->first = kept;
out:
    ldg_txn_abort(t);
    return rc;
}
