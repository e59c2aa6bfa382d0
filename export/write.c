/*
 * write.c — `ledger export`: selected events, their proofs against one
 * checkpoint, the keys that sign them, into one signed bundle.
 *
 * The export reads in windows of at most EX_WINDOW_EVENTS events or
 * EX_WINDOW_MS (ex_window; docs/QUERY.md, "Readers and the file's
 * growth"), each in a new read snapshot, and waits for room in its member
 * queue outside any: the bundle's size S is fixed by the first, and the
 * log's entries, bodies and tree hashes below S are the same bytes in
 * every later one, unless a prune or an erase removed some meanwhile,
 * which each window checks (the export then fails, LDG_ENOTFOUND, and
 * writes nothing). The steps:
 *
 *   1. the latest stored checkpoint (size S, root R), checked with the
 *      log's own verifier key;
 *   2. the selection, through the query module (the same matching as
 *      `ledger query`), cut at S;
 *   3. support events: genesis (it establishes the log key), for every
 *      actor key the events need its key.added and, if any before S, its
 *      key.revoked; for every selected event whose body was erased, the
 *      body.erased event that did it (and its actor's key events);
 *   4. per event, in sequence order: the exact entry bytes, a
 *      tlog-proof@v1 against the checkpoint of size S, and the body as
 *      salted fields (minus what is redacted: a withheld field is kept as
 *      its digest, so the commitment still verifies);
 *   5. events.jsonl (the selected events decoded, for people), the
 *      manifest listing everything with a SHA-256 per member, and the
 *      manifest's signature: a C2SP signed note by the log key whose text
 *      is "ledger.bundle/v1 manifest\n<hex SHA-256 of manifest.json>\n".
 *
 * Members stream into the archive as they are made; what stays in memory
 * is the selection, one digest per member and events.jsonl.
 *
 * The steps live in write_select.c, write_queue.c, write_members.c and
 * write_readme.c; the shared context is in write_int.h.
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "export/write_int.h"
#include "projections/projections.h"
#include "query/query.h"
#include "ledger/module.h"
#include "util/util.h"

/* ----------------------------------------------------------- the flow -- */

static int
check_opts(struct ldg_ledger *l, const struct ldg_export_opts *o)
{
    if (o->nterms < 0 || (o->nterms > 0 && o->terms == NULL) ||
        (o->nredact_fields > 0 && o->redact_fields == NULL) ||
        (o->nredact_types > 0 && o->redact_types == NULL) || o->level < 0 ||
        o->level > 19 || o->threads > 64) {
        ldg_set_errmsg(l, "export: invalid options");
        return LDG_EINVAL;
    }
    if (o->name != NULL && !bundle_top_valid(o->name)) {
        ldg_set_errmsg(l,
                       "bundle name '%s': use 1 to %d letters, digits, '.', "
                       "'_' or '-', not starting with '.' or '-'",
                       o->name, B_TOP_MAX);
        return LDG_EBADINPUT;
    }
    for (size_t i = 0; i < o->nredact_fields; i++) {
        if (o->redact_fields[i] == NULL || o->redact_fields[i][0] == '\0') {
            ldg_set_errmsg(l, LDG_OPT_REDACT ": empty field name");
            return LDG_EBADINPUT;
        }
    }
    for (size_t i = 0; i < o->nredact_types; i++) {
        if (o->redact_types[i] == NULL || o->redact_types[i][0] == '\0') {
            ldg_set_errmsg(l, LDG_OPT_REDACT_BODY ": empty event type");
            return LDG_EBADINPUT;
        }
        if (ex_protected_type(o->redact_types[i])) {
            ldg_set_errmsg(l,
                           LDG_OPT_REDACT_BODY
                           " %s: bodies of %s events are "
                           "needed to verify the bundle and cannot be "
                           "withheld",
                           o->redact_types[i], o->redact_types[i]);
            return LDG_EBADINPUT;
        }
    }
    return 0;
}

/* ------------------------------------------------------- the window -- */

/* Ends x->win.t and begins a new snapshot (waiting for room in the member
 * queue in between, outside any), then checks that what the bundle needs
 * is still there: the horizon of the first snapshot (a prune removes the
 * events before it) and no new erasure below the checkpoint. */
static int
window_renew(struct ex *x)
{
    int rc;

    ldg_window_end(&x->win);
    if ((rc = ex_queue_wait_room(x, QCAP / 2)) < 0)
        return rc;
    if ((rc = ldg_window_next(&x->win, "this export read the ledger")) < 0)
        return rc;
    ldg_proof_batch_rebind(x->proofs, x->win.t);
    ldg_vouch_rebind(x->vouch, x->win.t);
    ldg_query_models_rebind(x->models, x->win.t);
    x->win_events = 0;
    x->win_ms = ldg_now_mono_ms();
    return 0;
}

int
ex_window(struct ex *x, uint64_t n)
{
    x->win_events += n;
    if (x->win_events < EX_WINDOW_EVENTS &&
        ldg_now_mono_ms() - x->win_ms < EX_WINDOW_MS &&
        ex_queue_room(x) >= EX_WINDOW_ROOM)
        return 0;
    return window_renew(x);
}

/* The checkpoint every proof is against, checked with our own key. */
static int
load_checkpoint(struct ex *x)
{
    int rc = ldg_verifier_key(x->l, x->vkey, sizeof x->vkey);
    if (rc < 0)
        return rc;
    rc = ldg_checkpoint_get(x->win.t, x->o->checkpoint_size, &x->ck);
    if (rc < 0) {
        if (x->o->checkpoint_size != 0)
            ldg_set_errmsg(x->l, "no signed checkpoint of size %llu: %s",
                           (unsigned long long)x->o->checkpoint_size,
                           ldg_strerror(rc));
        else
            ldg_set_errmsg(x->l, "no signed checkpoint to export against: %s",
                           ldg_strerror(rc));
        return rc;
    }
    rc = ldg_checkpoint_open(x->vkey, x->ck, strlen(x->ck), x->origin,
                             sizeof x->origin, &x->cksize, x->root);
    if (rc < 0) {
        ldg_set_errmsg(x->l,
                       "the latest stored checkpoint does not verify "
                       "with the log key: %s",
                       ldg_strerror(rc));
        return rc == LDG_ENOMEM ? rc : LDG_ECORRUPT;
    }
    x->rep.checkpoint_size = x->cksize;
    x->win.wc.below = x->cksize;
    /* its epoch line whole, checked from the anchor alone (FORMAT.md 5.1) */
    return ldg_epoch_checkpoint_whole(x->win.t, x->cksize, x->ck, &x->ck_epoch);
}

/* Bundles carry the cosignatures they have (docs/format-bundle.md §2):
 * the newest cosigned checkpoint, if it is not newer than ours, and the
 * consistency proof from its size to ours (a C2SP tlog-witness
 * add-checkpoint body ending in our checkpoint), so a verifier can hold
 * the bundle to a witness policy or to a trusted checkpoint of that size.
 * Checked with our log key before anything is written. */
static int
prepare_cosigned(struct ex *x)
{
    const char *note = x->o->cosigned_note;
    char origin[LDG_ORIGIN_MAX + 1];
    uint8_t root[32];
    uint64_t size, lines = 0;
    size_t tlen = 0;
    int rc;

    if (note == NULL) {
        snprintf(x->rep.cosigned_detail, sizeof x->rep.cosigned_detail,
                 "no cosigned checkpoint kept");
        return 0;
    }
    rc = ldg_checkpoint_open(x->vkey, note, x->o->cosigned_len, origin,
                             sizeof origin, &size, root);
    if (rc == 0 && strcmp(origin, x->origin) != 0)
        rc = LDG_EBADINPUT;
    if (rc < 0) {
        ldg_set_errmsg(x->l,
                       "the cosigned checkpoint kept is not a checkpoint of "
                       "this log signed by its key (%s)",
                       ldg_strerror(rc));
        x->rep.cosigned_failed = 1;
        return LDG_ECORRUPT;
    }
    if (size > x->cksize) {
        snprintf(x->rep.cosigned_detail, sizeof x->rep.cosigned_detail,
                 "cosigned checkpoint of size %llu is newer than the "
                 "bundle's (%llu): not carried",
                 (unsigned long long)size, (unsigned long long)x->cksize);
        return 0;
    }
    rc = ldg_consistency_text(x->win.t, size, x->cksize, &x->cosigned_proof);
    if (rc < 0) {
        ldg_set_errmsg(x->l,
                       "consistency proof from the cosigned size %llu "
                       "to %llu: %s",
                       (unsigned long long)size, (unsigned long long)x->cksize,
                       ldg_strerror(rc));
        x->rep.cosigned_failed = 1;
        return rc;
    }
    /* the signature lines after the blank line, the log's own aside (its
     * key's and its epoch key's) */
    (void)ldg_note_verify_vkey(x->vkey, note, x->o->cosigned_len, &tlen);
    for (size_t i = tlen; i + 5 < x->o->cosigned_len; i++) {
        const char *name = note + i + 5;
        size_t n;
        if (note[i] != '\n' || strncmp(note + i + 1, "\xe2\x80\x94 ", 4) != 0)
            continue;
        n = strcspn(name, " \n");
        if (!ldg_note_name_is_log(x->l, name, n))
            lines++;
    }
    x->rep.cosigned_size = size;
    x->rep.cosignatures = lines;
    snprintf(x->rep.cosigned_detail, sizeof x->rep.cosigned_detail,
             "cosigned checkpoint of size %llu with %llu cosignature(s)",
             (unsigned long long)size, (unsigned long long)x->rep.cosignatures);
    return 0;
}

static int
write_cosigned(struct ex *x)
{
    int rc;
    if (x->cosigned_proof == NULL)
        return 0;
    if ((rc = ex_member(x, B_COSIGNED, x->o->cosigned_note,
                        x->o->cosigned_len)) < 0)
        return rc;
    return ex_member(x, B_COSIGNED_PROOF, x->cosigned_proof,
                     strlen(x->cosigned_proof));
}

/* A redaction that matches nothing in the selection is almost always a
 * typo (--redact requestedby for requested_by) and would let the data out
 * with "0 fields withheld": refuse it, naming it, unless the caller said
 * redact_allow_missing. Looks only at selected events whose bodies can be
 * redacted (not erased, not genesis/key.x/body.erased). */
static int
check_redactions_match(struct ex *x)
{
    const struct ldg_export_opts *o = x->o;
    size_t nf = o->nredact_fields, nt = o->nredact_types;
    char *hit_f = NULL, *hit_t = NULL;
    int rc = 0;

    if (o->redact_allow_missing || (nf == 0 && nt == 0))
        return 0;
    hit_f = calloc(nf + 1, 1);
    hit_t = calloc(nt + 1, 1);
    if (hit_f == NULL || hit_t == NULL) {
        rc = LDG_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < x->nev && rc == 0; i++) {
        struct ldg_event ev;
        struct ldg_field *f = NULL;
        size_t n = 0;
        if (!(x->ev[i].role & ROLE_SELECTED))
            continue;
        rc = ldg_event_get_ex(x->win.t, x->ev[i].seq, &ev, LDG_DECODE_TRUSTED);
        if (rc < 0) {
            ldg_set_errmsg(x->l, "event %llu: %s",
                           (unsigned long long)x->ev[i].seq, ldg_strerror(rc));
            break;
        }
        if (ex_protected_type(ev.type))
            continue;
        for (size_t k = 0; k < nt; k++)
            hit_t[k] |= strcmp(ev.type, o->redact_types[k]) == 0;
        if (nf == 0)
            continue;
        rc = ldg_body_fields(x->win.t, ev.seq, &f, &n);
        if (rc == LDG_EERASED) {
            rc = 0;
            continue;
        }
        if (rc < 0) {
            ldg_set_errmsg(x->l, "event %llu: body: %s",
                           (unsigned long long)ev.seq, ldg_strerror(rc));
            break;
        }
        for (size_t j = 0; j < n; j++)
            for (size_t k = 0; k < nf; k++)
                hit_f[k] |= strcmp(f[j].name, o->redact_fields[k]) == 0;
        ldg_fields_free(f, n);
    }
    for (size_t k = 0; rc == 0 && k < nf; k++) {
        if (!hit_f[k]) {
            ldg_set_errmsg(
                x->l,
                LDG_OPT_REDACT
                " %s: no selected event has a body field "
                "named '%s' (a typo would let the data out); "
                "check the name, or pass " LDG_OPT_REDACT_ALLOW_MISSING,
                o->redact_fields[k], o->redact_fields[k]);
            rc = LDG_EBADINPUT;
        }
    }
    for (size_t k = 0; rc == 0 && k < nt; k++) {
        if (!hit_t[k]) {
            ldg_set_errmsg(
                x->l,
                LDG_OPT_REDACT_BODY
                " %s: no selected event is of type "
                "'%s'; check the name, or pass " LDG_OPT_REDACT_ALLOW_MISSING,
                o->redact_types[k], o->redact_types[k]);
            rc = LDG_EBADINPUT;
        }
    }
out:
    free(hit_f);
    free(hit_t);
    return rc;
}

/* The envelope field of ev that repeats value (a withheld field's), or
 * NULL: `subject` is derived from a body field as kind:VALUE (or VALUE,
 * for `target`) and `run` from the body's `run` (docs/VOCABULARY.md), and
 * an input may also give either one equal to a body field. */
static const char *
envelope_repeats(const struct ldg_event *ev, const json_t *value)
{
    const char *v = json_string_value(value), *colon;

    if (v == NULL || v[0] == '\0')
        return NULL;
    colon = strchr(ev->subject, ':');
    if (strcmp(ev->subject, v) == 0 ||
        (colon != NULL && strcmp(colon + 1, v) == 0))
        return "subject";
    if (ev->run[0] != '\0' && strcmp(ev->run, v) == 0)
        return "run";
    return NULL;
}

/* A withheld field reveals neither its name nor its value (FORMAT.md
 * section 4, docs/format-bundle.md section 3), but the envelope is signed
 * and ships whole: when it repeats a withheld field's value (run.started's
 * subject pack:P and run R, from its body's pack and run), withholding the
 * field would not hide it. Refused (LDG_EINVAL: exit 64) naming the
 * event, the field and the envelope field, unless the caller accepts the
 * disclosure (allow_envelope_disclosure). Looks at every event whose body
 * the bundle withholds fields of. */
static int
check_envelope_disclosure(struct ex *x)
{
    const struct ldg_export_opts *o = x->o;
    int rc = 0;

    if (o->allow_envelope_disclosure ||
        (o->nredact_fields == 0 && o->nredact_types == 0))
        return 0;
    for (size_t i = 0; i < x->nev && rc == 0; i++) {
        struct ldg_event ev;
        struct ldg_field *f = NULL;
        size_t n = 0;
        int whole;

        rc = ldg_event_get_ex(x->win.t, x->ev[i].seq, &ev, LDG_DECODE_TRUSTED);
        if (rc < 0) {
            ldg_set_errmsg(x->l, "event %llu: %s",
                           (unsigned long long)x->ev[i].seq, ldg_strerror(rc));
            break;
        }
        if (ex_protected_type(ev.type))
            continue;
        whole = ex_in_list(ev.type, o->redact_types, o->nredact_types);
        if (!whole && o->nredact_fields == 0)
            continue;
        rc = ldg_body_fields(x->win.t, ev.seq, &f, &n);
        if (rc == LDG_EERASED) {
            rc = 0;
            continue;
        }
        if (rc < 0) {
            ldg_set_errmsg(x->l, "event %llu: body: %s",
                           (unsigned long long)ev.seq, ldg_strerror(rc));
            break;
        }
        for (size_t j = 0; j < n && rc == 0; j++) {
            const char *env;
            if (!whole &&
                !ex_in_list(f[j].name, o->redact_fields, o->nredact_fields))
                continue;
            if ((env = envelope_repeats(&ev, f[j].value)) == NULL)
                continue;
            ldg_set_errmsg(x->l,
                           "event %llu (%s): %s %s: the envelope's %s "
                           "\"%s\" repeats the withheld field's value, and "
                           "the envelope is signed and cannot be withheld; "
                           "select other events, or "
                           "pass " LDG_OPT_ALLOW_ENVELOPE_DISCLOSURE
                           " to ship it anyway",
                           (unsigned long long)ev.seq, ev.type,
                           whole ? LDG_OPT_REDACT_BODY : LDG_OPT_REDACT,
                           whole ? ev.type : f[j].name, env,
                           strcmp(env, "run") == 0 ? ev.run : ev.subject);
            rc = LDG_EINVAL;
        }
        ldg_fields_free(f, n);
    }
    return rc;
}

/* An empty selection is an error unless asked for: a mistyped run must
 * not give a bundle that proves nothing with exit 0. */
static int
check_not_empty(struct ex *x)
{
    const struct ldg_export_opts *o = x->o;
    char what[256] = "";
    size_t len = 0;

    if (x->rep.selected > 0 || o->allow_empty)
        return 0;
    for (int i = 0; i < o->nterms && len < sizeof what; i++) {
        int w = snprintf(what + len, sizeof what - len, "%s%s", i ? " " : "",
                         o->terms[i]);
        if (w < 0)
            break;
        len += (size_t)w;
    }
    if (len >= sizeof what)
        len = sizeof what - 1;
    ldg_set_errmsg(x->l,
                   "no event matches the selection%s%s%s%s%s%s (up to the "
                   "checkpoint of size %llu); pass " LDG_OPT_ALLOW_EMPTY
                   " for an "
                   "empty bundle",
                   len ? " " : "", what, o->since ? " since " : "",
                   o->since ? o->since : "", o->until ? " until " : "",
                   o->until ? o->until : "", (unsigned long long)x->cksize);
    return LDG_ENOTFOUND;
}

/* Nothing is shipped that the ledger cannot vouch for: every event of the
 * bundle (selected and support) is checked as ledger verify would check
 * it (signature with a key the log's key events make valid, chain
 * position, entry = stored leaf, body against its commitment) before a
 * byte is written. A tampered ledger is refused here, naming the event,
 * instead of producing a bundle that fails at the receiver. */
static int
vouch_all(struct ex *x)
{
    struct ldg_vouch *v = NULL;
    uint64_t *seqs = malloc((x->nev ? x->nev : 1) * sizeof *seqs);
    char why[400] = "";
    int rc = seqs == NULL ? LDG_ENOMEM : ldg_vouch_new(&v, x->win.t);

    for (size_t i = 0; rc == 0 && i < x->nev; i++)
        seqs[i] = x->ev[i].seq;
    x->vouch = v;
    /* a window of events at a time (rebound to each new snapshot) */
    for (size_t i = 0; rc == 0 && i < x->nev; i += EX_WINDOW_EVENTS) {
        size_t n =
            x->nev - i < EX_WINDOW_EVENTS ? x->nev - i : EX_WINDOW_EVENTS;
        rc = ldg_vouch_events(v, seqs + i, n, x->o->threads, why, sizeof why);
        if (rc == 0 && i + n < x->nev && (rc = ex_window(x, n)) < 0) {
            x->vouch = NULL;
            ldg_vouch_free(v);
            free(seqs);
            return rc; /* (its message said) */
        }
    }
    x->vouch = NULL;
    if (rc == LDG_ETAMPER)
        ldg_set_errmsg(x->l,
                       "refusing to export: %s (" LDG_CMD_VERIFY_FULL " "
                       "shows the whole finding)",
                       why);
    else if (rc < 0)
        ldg_set_errmsg(x->l, "checking the events to export: %s%s%s",
                       ldg_strerror(rc), why[0] ? ": " : "", why);
    ldg_vouch_free(v);
    free(seqs);
    return rc;
}

static int
write_all_members(struct ex *x)
{
    char vk[520];
    int rc;

    snprintf(vk, sizeof vk, "%s\n", x->vkey);
    if ((rc = ex_member(x, B_MAGIC, LDG_BUNDLE_MAGIC "\n",
                        strlen(LDG_BUNDLE_MAGIC "\n"))) < 0 ||
        (rc = ex_member(x, B_VKEY, vk, strlen(vk))) < 0 ||
        (rc = ex_member(x, B_CHECKPOINT, x->ck, strlen(x->ck))) < 0 ||
        (x->ck_epoch != NULL &&
         (rc = ex_member(x, B_CHECKPOINT_EPOCH, x->ck_epoch,
                         strlen(x->ck_epoch))) < 0) ||
        (x->hz.seq > 0 &&
         (rc = ex_member(x, B_HORIZON, x->hz.record, x->hz.record_len)) < 0) ||
        (rc = write_cosigned(x)) < 0 || (rc = ex_write_keys(x)) < 0)
        return rc;
    for (size_t i = 0; i < x->nev; i++) {
        if ((rc = ex_window(x, 1)) < 0 ||
            (rc = ex_write_event(x, &x->ev[i])) < 0)
            return rc;
        if (x->o->progress && (i % PROGRESS_EVERY == 0 || i + 1 == x->nev))
            x->o->progress(x->o->progress_ctx, i + 1, x->nev);
    }
    /* a last window, begun once the queue has room for the few members
     * left (so none of them waits on it inside the snapshot) */
    x->win_events = EX_WINDOW_EVENTS;
    if ((rc = ex_window(x, 0)) < 0)
        return rc;
    if (x->jsonl.err)
        return x->jsonl.err;
    if ((rc = ex_write_state(x)) < 0 ||
        (rc = ex_write_summary(x, x->now_ns)) < 0 ||
        (rc = ex_write_readme(x, x->now_ns)) < 0 ||
        (rc = ex_write_index(x, x->now_ns)) < 0)
        return rc;
    if (x->timeline != NULL &&
        (rc = ex_member_json(x, B_TIMELINE, json_incref(x->timeline),
                             JSON_INDENT(1))) < 0)
        return rc;
    rc = ex_member_put(x, B_EVENTS, x->jsonl.s ? x->jsonl.s : "", x->jsonl.len,
                       x->jsonl.p);
    x->jsonl.p = NULL;
    return rc;
}

/* The export proper, in one read transaction, into fd. */
static int
export_into(struct ldg_ledger *l, const struct ldg_export_opts *o, int fd,
            struct ldg_export_report *report)
{
    struct ldg_query *q = NULL;
    struct ldg_key *logkey = NULL;
    struct ex x;
    char err[512];
    uint64_t now_ns;
    int rc;

    if (l == NULL || o == NULL || fd < 0)
        return LDG_EINVAL;
    if ((rc = check_opts(l, o)) < 0)
        return rc;
    memset(&x, 0, sizeof x);
    x.l = l;
    x.o = o;
    x.win.l = l;
    x.win.snapshot = o->snapshot;
    x.win.snapshot_ctx = o->snapshot_ctx;
    x.max_events = o->max_events ? o->max_events : MAX_EVENTS_DEFAULT;
    ldg_set_errmsg(l, "%s", "");
    snprintf(x.top, sizeof x.top, "%s", o->name ? o->name : "bundle");
    if (o->file_name != NULL)
        snprintf(x.file, sizeof x.file, "%s", o->file_name);
    else
        snprintf(x.file, sizeof x.file, "%s.tar.zst", x.top);
    /* The manifest is signed last; find out now if we cannot. */
    if ((rc = ldg_keys_load(l, "log", &logkey)) < 0) {
        snprintf(err, sizeof err, "%s",
                 ldg_errmsg(l)[0] ? ldg_errmsg(l) : ldg_strerror(rc));
        ldg_set_errmsg(l, "the log key is needed to sign the bundle: %s", err);
        return rc;
    }
    ldg_key_free(logkey);
    rc = ldg_query_compile(&q, o->nterms, o->terms, o->since, o->until, err,
                           sizeof err);
    if (rc < 0) {
        ldg_set_errmsg(l, "selection: %s", err);
        return rc;
    }
    if ((rc = ldg_window_begin(&x.win)) < 0 ||
        (rc = ldg_txn_size(x.win.t, &x.size0)) < 0)
        goto out;
    x.win_ms = ldg_now_mono_ms();
    rc = ldg_horizon_get(x.win.t, &x.hz);
    if (rc < 0 && rc != LDG_ENOTFOUND)
        goto out;
    x.win.wc.horizon = x.hz.seq; /* (0 when never pruned) */
    x.win.wc.seen = x.size0;
    if ((rc = load_checkpoint(&x)) < 0 || (rc = prepare_cosigned(&x)) < 0 ||
        (rc = ex_select_events(&x, q)) < 0 ||
        (rc = ex_select_context(&x)) < 0 || (rc = check_not_empty(&x)) < 0 ||
        (rc = ex_select_support(&x)) < 0 ||
        (rc = check_redactions_match(&x)) < 0 ||
        (rc = check_envelope_disclosure(&x)) < 0 || (rc = vouch_all(&x)) < 0)
        goto out;
    if ((rc = ldg_proof_batch_new(&x.proofs, x.win.t, x.cksize)) < 0) {
        ldg_set_errmsg(l, "inclusion proofs at size %llu: %s",
                       (unsigned long long)x.cksize, ldg_strerror(rc));
        goto out;
    }
    ex_load_state(&x);
    /* the state was read in a snapshot of its own: a prune or an erase
     * before it shows in the next window's check, begun now */
    x.win_events = EX_WINDOW_EVENTS;
    if ((rc = ex_window(&x, 0)) < 0)
        goto out;
    x.now_ns = now_ns = ldg_now_wall_ns();
    rc = bwriter_new(&x.w, fd, o->level ? o->level : 1,
                     o->threads ? o->threads : 2,
                     (int64_t)(now_ns / 1000000000u), x.top, err, sizeof err);
    if (rc < 0) {
        ldg_set_errmsg(l, "%s", err);
        goto out;
    }
    ex_queue_start(&x);
    rc = write_all_members(&x);
    /* the rest reads nothing: the writer is waited for with no snapshot */
    ldg_window_end(&x.win);
    if (ex_queue_finish(&x) < 0 && rc == 0)
        rc = x.q.err;
    if (rc < 0 || (rc = ex_write_manifest(&x, now_ns)) < 0)
        goto out;
    rc = bwriter_finish(x.w, &x.rep.bytes, &x.rep.unpacked_bytes);
    if (rc < 0)
        ldg_set_errmsg(l, "writing the bundle: %s", bwriter_errmsg(x.w));
out:
    ex_queue_finish(&x); /* after an early failure */
    if (x.q.inited) {
        pthread_mutex_destroy(&x.q.mu);
        pthread_cond_destroy(&x.q.nonempty);
        pthread_cond_destroy(&x.q.nonfull);
    }
    if (rc < 0 && ldg_errmsg(l)[0] == '\0')
        ldg_set_errmsg(l, "export: %s", ldg_strerror(rc));
    if (report != NULL) {
        if (rc == 0) {
            *report = x.rep;
        } else {
            memset(report, 0, sizeof *report);
            report->cosigned_failed = x.rep.cosigned_failed;
            report->erased_after = x.rep.erased_after;
        }
    }
    bwriter_free(x.w);
    ldg_proof_batch_free(x.proofs);
    for (size_t i = 0; i < x.nseals; i++) {
        free(x.seals[i].dig);
        ldg_seal_tree_free(x.seals[i].tree);
    }
    free(x.seals);
    ldg_epoch_walk_free(x.epochs);
    ldg_query_models_free(x.models);
    ldg_window_end(&x.win);
    ldg_query_free(q);
    free(x.mfiles.p);
    free(x.msizes.p);
    free(x.mevents.p);
    json_decref(x.state);
    json_decref(x.timeline);
    json_decref(x.run_tl);
    free(x.state_note);
    free(x.jsonl.p);
    ex_summary_free(&x);
    free(x.ev);
    free(x.keys);
    free(x.ck);
    free(x.ck_epoch);
    ldg_horizon_release(&x.hz);
    free(x.cosigned_proof);
    return rc;
}

void
ldg_export_bundle_name(char *buf, size_t cap, const char *file)
{
    static const char *const ext[] = {".tar.zst", ".tzst", ".zst", ".tar",
                                      ".bundle"};
    size_t n = 0, len;
    int again = 1;

    if (cap == 0)
        return;
    if (cap > B_TOP_MAX + 1)
        cap = B_TOP_MAX + 1;
    for (const char *p = file ? file : ""; *p && n + 1 < cap; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!ok || (n == 0 && (c == '.' || c == '-')))
            c = '_';
        buf[n++] = c;
    }
    LDG_ASSERT(n < cap);
    buf[n] = '\0';
    while (again) { /* r1.bundle.tar.zst -> r1 */
        again = 0;
        for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
            size_t el = strlen(ext[i]);
            len = strlen(buf);
            if (len > el && strcmp(buf + len - el, ext[i]) == 0) {
                buf[len - el] = '\0';
                again = 1;
            }
        }
    }
    for (char *d; (d = strstr(buf, "..")) != NULL;)
        d[1] = '_';
    if (buf[0] == '\0' || !bundle_top_valid(buf))
        snprintf(buf, cap, "bundle");
}

/* Copies the whole of from (from its start) to fd. 0 or -1 (errno). */
static int
copy_out(int from, int fd)
{
    static const size_t cap = 1 << 16;
    char *buf = malloc(cap);
    ssize_t got;

    if (buf == NULL || lseek(from, 0, SEEK_SET) != 0) {
        free(buf);
        return -1;
    }
    while ((got = read(from, buf, cap)) != 0) {
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 || ldg_write_all(fd, buf, (size_t)got, 0) < 0) {
            got = -1;
            break;
        }
    }
    free(buf);
    return got == 0 ? 0 : -1;
}

/* export_into, and no answer of it when memory ran out on the way
 * (ldg_alloc_failures, util/error.h): a body or key event read then may
 * lack members, a finding made then proves nothing, a bundle written then
 * may lack what it says it holds. */
static int
export_into_whole(struct ldg_ledger *l, const struct ldg_export_opts *o, int fd,
                  struct ldg_export_report *report)
{
    unsigned long oom = ldg_alloc_failures();
    int rc = export_into(l, o, fd, report);

    if (ldg_alloc_failures() != oom && rc != LDG_ENOMEM) {
        ldg_set_errmsg(l, "out of memory while exporting (the bundle, or "
                          "what the export found, is not to be relied on)");
        rc = LDG_ENOMEM;
    }
    return rc;
}

/*
 * Into a regular file, the export writes directly. Into anything else (a
 * pipe, a socket, a terminal), it writes to an unlinked temporary file in
 * $TMPDIR first and copies that out after its read transaction ended: a
 * consumer that reads slowly or not at all (`export --out - | ...` left
 * blocked) then pins no snapshot, so writers go on reusing freed pages
 * (issue 11: a paused reader used to make data.mdb grow for good).
 */
int
ldg_export_write_fd(struct ldg_ledger *l, const struct ldg_export_opts *o,
                    int fd, struct ldg_export_report *report)
{
    const char *dir = getenv("TMPDIR");
    char tmp[4200];
    struct stat st;
    int t, rc;

    if (l == NULL || o == NULL || fd < 0)
        return LDG_EINVAL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
        return export_into_whole(l, o, fd, report);
    if (dir == NULL || *dir == '\0')
        dir = "/tmp";
    snprintf(tmp, sizeof tmp, "%s/ledger-export-XXXXXX", dir);
    t = mkstemp(tmp);
    if (t < 0) {
        ldg_set_errmsg(l, "cannot create a temporary file in %s: %s", dir,
                       strerror(errno));
        return LDG_EIO;
    }
    unlink(tmp);
    rc = export_into_whole(l, o, t, report);
    if (rc == 0 && copy_out(t, fd) < 0) {
        ldg_set_errmsg(l, "writing the bundle: %s", strerror(errno));
        rc = LDG_EIO;
    }
    close(t);
    return rc;
}

int
export_open_unnamed(const char *path)
{
    char dir[4200];
    const char *slash = strrchr(path, '/');
    size_t n;

    if (access("/proc/self/fd", X_OK) != 0) {
        errno = EOPNOTSUPP;
        return -1;
    }
    if (slash == NULL) {
        snprintf(dir, sizeof dir, ".");
    } else {
        n = slash == path ? 1 : (size_t)(slash - path);
        if (n >= sizeof dir) {
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    return open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
}

/* Removes path's leftover NAME.tmp.XXXXXX files that no process holds
 * locked (export_open_named_tmp's writers hold theirs). */
static void
sweep_named_tmp(const char *path)
{
    char dir[4200], full[8400];
    const char *slash = strrchr(path, '/'), *base;
    size_t nb;
    DIR *d;
    struct dirent *de;

    if (slash == NULL) {
        snprintf(dir, sizeof dir, ".");
        base = path;
    } else {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        if (n >= sizeof dir)
            return;
        memcpy(dir, path, n);
        dir[n] = '\0';
        base = slash + 1;
    }
    nb = strlen(base);
    if ((d = opendir(dir)) == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        struct stat a, b;
        int fd;
        if (strlen(de->d_name) != nb + 11 ||
            memcmp(de->d_name, base, nb) != 0 ||
            memcmp(de->d_name + nb, ".tmp.", 5) != 0)
            continue;
        snprintf(full, sizeof full, "%s/%s", dir, de->d_name);
        fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
            continue;
        /* unlocked: its writer is gone; still the file of that name */
        if (fstat(fd, &a) == 0 && S_ISREG(a.st_mode) &&
            flock(fd, LOCK_EX | LOCK_NB) == 0 && lstat(full, &b) == 0 &&
            a.st_dev == b.st_dev && a.st_ino == b.st_ino)
            unlink(full);
        close(fd);
    }
    closedir(d);
}

int
export_open_named_tmp(const char *path, char *tmp)
{
    size_t n = strlen(tmp);

    sweep_named_tmp(path);
    for (int tries = 0; tries < 16; tries++) {
        struct stat a, b;
        int fd;
        memcpy(tmp + n - 6, "XXXXXX", 6);
        if ((fd = mkstemp(tmp)) < 0)
            return -1;
        /* another writer's sweep may have taken it between mkstemp and
         * the lock: then it is no longer this name's, and a new one is
         * made */
        if (flock(fd, LOCK_EX) == 0 && fstat(fd, &a) == 0 &&
            lstat(tmp, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
            return fd;
        close(fd);
    }
    errno = EAGAIN;
    return -1;
}

int
export_link_unnamed(int fd, const char *path)
{
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    return linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW);
}

int
ldg_export_write(struct ldg_ledger *l, const struct ldg_export_opts *o,
                 const char *path, struct ldg_export_report *report)
{
    char *tmp = NULL;
    size_t n;
    int fd = -1, rc, e;

    if (l == NULL || o == NULL || path == NULL || *path == '\0')
        return LDG_EINVAL;
    if ((rc = ldg_export_out_check(l, path, 0)) < 0)
        return rc;
    if (o->name == NULL || o->file_name == NULL) {
        struct ldg_export_opts named = *o;
        const char *base = strrchr(path, '/');
        char top[B_TOP_MAX + 1];
        base = base != NULL ? base + 1 : path;
        ldg_export_bundle_name(top, sizeof top, base);
        if (named.name == NULL)
            named.name = top;
        if (named.file_name == NULL)
            named.file_name = base;
        return ldg_export_write(l, &named, path, report);
    }
    n = strlen(path) + 16;
    tmp = malloc(n);
    if (tmp == NULL)
        return LDG_ENOMEM;
    snprintf(tmp, n, "%s.tmp.XXXXXX", path);
    fd = export_open_unnamed(path);
    e = errno;
    if (fd < 0 && (e == ENOENT || e == ENOTDIR || e == EACCES || e == EROFS ||
                   e == ENOSPC || e == EDQUOT)) {
        /* (what a named file would meet too) */
        ldg_set_errmsg(l, "cannot create a file in the directory of %s: %s",
                       path, strerror(e));
        free(tmp);
        return e == ENOSPC || e == EDQUOT ? LDG_EIO : LDG_EEXIST;
    }
    if (fd >= 0) {
        tmp[0] = '\0'; /* (unnamed) */
    } else if ((fd = export_open_named_tmp(path, tmp)) < 0) {
        /* a path that cannot hold a file (no such directory, no write
         * permission): the caller's (73); the disk's failures are I/O */
        e = errno; /* (named as asked: the temporary name is ours) */
        ldg_set_errmsg(l, "cannot create %s: %s", path, strerror(e));
        free(tmp);
        return e == ENOSPC || e == EIO || e == EDQUOT || e == EMFILE ||
                       e == ENFILE
                   ? LDG_EIO
                   : LDG_EEXIST;
    }
    rc = ldg_export_write_fd(l, o, fd, report);
    if (rc == 0 && fsync(fd) < 0) {
        ldg_set_errmsg(l, "%s: %s", tmp[0] ? tmp : path, strerror(errno));
        rc = LDG_EIO;
    }
    /* link() never replaces: a file that appeared meanwhile is kept. */
    if (rc == 0 &&
        (tmp[0] ? link(tmp, path) : export_link_unnamed(fd, path)) < 0) {
        ldg_set_errmsg(l, "cannot create %s: %s", path, strerror(errno));
        rc = errno == EEXIST ? LDG_EEXIST : LDG_EIO;
    }
    if (close(fd) < 0 && rc == 0) {
        ldg_set_errmsg(l, "%s: %s", path, strerror(errno));
        rc = LDG_EIO;
        unlink(path);
    }
    if (tmp[0])
        unlink(tmp);
    free(tmp);
    return rc;
}
