/*
 * write_members.c — the members: each event's entry, proof, body and seal,
 * the keys, the projected state, the manifest and its signature (`ledger
 * export`; the flow is in write.c, the shared context in write_int.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "export/write_int.h"
#include "projections/projections.h"
#include "query/query.h"
#include "ledger/module.h"
#include "util/util.h"

/* ------------------------------------------------------------ members -- */

int
ex_write_keys(struct ex *x)
{
    for (size_t i = 0; i < x->nkeys; i++) {
        const struct ldg_keyinfo *ki = &x->keys[i].ki;
        char name[64];
        json_t *o;
        snprintf(name, sizeof name, "keys/%s.json", ki->key_id);
        o = json_object();
        if (o == NULL)
            return LDG_ENOMEM;
        json_object_set_new(o, "key_id", json_string(ki->key_id));
        json_object_set_new(o, "public_key", ldg_json_hex(ki->pub, 32));
        json_object_set_new(o, "actor", json_string(ki->name));
        json_object_set_new(o, "added_seq", ldg_json_u64(ki->added_seq));
        if (ki->revoked_seq < x->cksize)
            json_object_set_new(o, "revoked_seq",
                                ldg_json_u64(ki->revoked_seq));
        int rc = ex_member_json(x, name, o, JSON_INDENT(2));
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* What to do with one body. */
enum bmode { BM_FULL, BM_REDACTED, BM_WITHHELD, BM_ERASED };
static const char *const bmode_name[] = {"full", "redacted", "withheld",
                                         "erased"};

static int
cmp_digest(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

/*
 * bodies/<seq>.json for one event, written as text:
 *   {"fields":{name:{"salt":b64,"value":v},...},"withheld":[hex,...]}
 * (withheld digests sorted) or {"erased":true}. Each value is dumped
 * once: lb gets the disclosed body {name:v,...} for events.jsonl, shown
 * the same as an object (for the summary and "model_at", unparsed), names
 * the withheld names for the manifest.
 */
static int
body_member(struct ex *x, const struct ldg_event *ev, enum bmode *mode,
            struct ldg_buf *lb, json_t *shown, json_t *names)
{
    const struct ldg_export_opts *o = x->o;
    struct ldg_buf d = {0};
    struct ldg_field *f = NULL;
    uint8_t(*wd)[32] = NULL;
    size_t n = 0, nw = 0, nshown = 0;
    char name[48];
    int rc, whole;

    snprintf(name, sizeof name, "bodies/%llu.json",
             (unsigned long long)ev->seq);
    rc = ldg_body_fields(x->win.t, ev->seq, &f, &n);
    if (rc == LDG_EERASED) {
        *mode = BM_ERASED;
        x->rep.bodies_erased++;
        return ex_member(x, name, "{\"erased\":true}", 15);
    }
    if (rc < 0) {
        ldg_set_errmsg(x->l, "event %llu: body: %s",
                       (unsigned long long)ev->seq, ldg_strerror(rc));
        return rc;
    }
    whole = !ex_protected_type(ev->type) &&
            ex_in_list(ev->type, o->redact_types, o->nredact_types);
    wd = malloc((n ? n : 1) * 32);
    if (wd == NULL) {
        rc = LDG_ENOMEM;
        goto out;
    }
    ldg_buf_puts(&d, "{\"fields\":{");
    ldg_buf_puts(lb, "{");
    for (size_t i = 0; i < n; i++) {
        char *v, salt[25];
        if (whole ||
            (!ex_protected_type(ev->type) &&
             ex_in_list(f[i].name, o->redact_fields, o->nredact_fields))) {
            memcpy(wd[nw++], f[i].digest, 32);
            if (!whole)
                json_array_append_new(names, json_string(f[i].name));
            continue;
        }
        v = json_dumps(f[i].value, JSON_COMPACT | JSON_ENCODE_ANY);
        if (v == NULL) {
            rc = LDG_ENOMEM;
            goto out;
        }
        ldg_base64(salt, f[i].salt, 16);
        if (nshown++ > 0) {
            ldg_buf_puts(&d, ",");
            ldg_buf_puts(lb, ",");
        }
        gb_jstr(&d, f[i].name);
        ldg_buf_puts(&d, ":{\"salt\":\"");
        ldg_buf_puts(&d, salt);
        ldg_buf_puts(&d, "\",\"value\":");
        ldg_buf_puts(&d, v);
        ldg_buf_puts(&d, "}");
        gb_jstr(lb, f[i].name);
        ldg_buf_puts(lb, ":");
        ldg_buf_puts(lb, v);
        free(v);
        if (json_object_set(shown, f[i].name, f[i].value) < 0) {
            rc = LDG_ENOMEM;
            goto out;
        }
    }
    ldg_buf_puts(lb, "}");
    ldg_buf_puts(&d, "},\"withheld\":[");
    qsort(wd, nw, 32, cmp_digest);
    for (size_t i = 0; i < nw; i++) {
        if (i > 0)
            ldg_buf_puts(&d, ",");
        gb_hex(&d, wd[i], 32);
    }
    ldg_buf_puts(&d, "]}");
    if ((rc = d.err) < 0 || (rc = lb->err) < 0)
        goto out;
    /* Labelled by what the member holds, not by the flag that made it
     * (docs/format-bundle.md section 3): every field withheld is
     * "withheld" however it came about (--redact naming them all, or
     * --redact-body), and a body with no field to withhold is "full". */
    if (nw > 0 && nshown == 0) {
        *mode = BM_WITHHELD;
        x->rep.bodies_withheld++;
    } else if (nw > 0) {
        *mode = BM_REDACTED;
        x->rep.bodies_redacted++;
        x->rep.fields_withheld += nw;
    } else {
        *mode = BM_FULL;
        x->rep.bodies_full++;
    }
    rc = ex_member_put(x, name, d.p, d.len, d.p);
    d.p = NULL;
out:
    free(d.p);
    free(wd);
    ldg_fields_free(f, n);
    return rc;
}

/* One line of events.jsonl: the envelope, the actor's name and the body
 * as disclosed (or a flag saying why not). */
static int
jsonl_line(struct ex *x, const struct ldg_event *ev, enum bmode mode,
           const struct ldg_buf *lb, const json_t *shown, const json_t *names)
{
    struct ldg_buf *b = &x->jsonl;
    struct keyent *k = ex_find_key(x, ev->actor);
    size_t start = b->len;
    int rc = 0;

    gb_envelope(b, ev);
    if (k != NULL) {
        ldg_buf_puts(b, ",\"actor_name\":");
        gb_jstr(b, k->ki.name);
    }
    if (mode == BM_ERASED) {
        ldg_buf_puts(b, ",\"erased\":true");
    } else if (mode == BM_WITHHELD) {
        ldg_buf_puts(b, ",\"body_withheld\":true");
    } else {
        ldg_buf_puts(b, ",\"body\":");
        ldg_buf_add(b, lb->p, lb->len);
        if (mode == BM_REDACTED) {
            /* how many, never which: the names stay out of the bundle */
            ldg_buf_puts(b, ",\"withheld\":");
            gb_u64(b, json_array_size(names));
        }
    }
    if (mode == BM_FULL && x->models != NULL) {
        /* the weights the model it names had then (docs/EXPORT.md) */
        struct ldg_model_at m;
        const char *model = NULL;
        rc = ex_model_at(x, ev, shown, &m, &model);
        if (rc > 0) {
            json_t *o = ldg_query_model_at_json(model, &m);
            char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
            ldg_buf_puts(b, ",\"model_at\":");
            if (txt != NULL)
                ldg_buf_add(b, txt, strlen(txt));
            else
                b->err = LDG_ENOMEM;
            free(txt);
            json_decref(o);
        }
    }
    ldg_buf_puts(b, "}\n");
    if (rc < 0)
        return rc;
    if (b->err == 0)
        ex_summary_add(x, ev,
                       mode == BM_FULL || mode == BM_REDACTED ? shown : NULL,
                       b->s + start, b->len - start - 1);
    return b->err;
}

/* Format 2: loads the seal at seal_seq for the event at seq: its record
 * and its events' claim digests in leaf order. A key's seal covers its
 * events of one commit, adjacent or not (FORMAT.md sections 3.2-3.3:
 * other actors' events of the commit sit between them when actors
 * interleave), so its events are the entries from seal_seq on whose stamp
 * names this seal, up to `count` of them, all before the checkpoint (every
 * checkpoint falls between seals). Anything else is what `ledger verify`
 * reports as well. */
static int
seal_load(struct ex *x, uint64_t seq, uint64_t seal_seq, struct exseal *o)
{
    struct ldg_event se;
    uint64_t got = 0, at;
    int rc;

    memset(o, 0, sizeof *o);
    if ((rc = ldg_seal_get(x->win.t, seal_seq, &o->seal)) < 0) {
        ldg_set_errmsg(
            x->l, "event %llu: its seal at %llu: %s (run " LDG_CMD_VERIFY ")",
            (unsigned long long)seq, (unsigned long long)seal_seq,
            ldg_strerror(rc));
        return rc == LDG_ENOTFOUND ? LDG_ECORRUPT : rc;
    }
    o->dig = malloc((size_t)o->seal.count * 32);
    if (o->dig == NULL)
        return LDG_ENOMEM;
    for (at = seal_seq; got < o->seal.count && at < x->cksize; at++) {
        if ((rc = ldg_event_get_ex(x->win.t, at, &se, LDG_DECODE_TRUSTED)) <
            0) {
            ldg_set_errmsg(x->l, "event %llu: event %llu of its commit: %s",
                           (unsigned long long)seq, (unsigned long long)at,
                           ldg_strerror(rc));
            return rc;
        }
        if (!se.sealed || se.seal_seq != seal_seq)
            continue; /* another actor's event of the commit */
        if (se.seal_leaf != got) {
            ldg_set_errmsg(
                x->l,
                "event %llu is leaf %llu of seal %llu, which "
                "expects leaf %llu (stored data is corrupt): "
                "run " LDG_CMD_VERIFY,
                (unsigned long long)at, (unsigned long long)se.seal_leaf,
                (unsigned long long)seal_seq, (unsigned long long)got);
            return LDG_ECORRUPT;
        }
        memcpy(o->dig[got++], se.digest, 32);
        o->last_seq = at;
    }
    if (got != o->seal.count) {
        ldg_set_errmsg(x->l,
                       "seal %llu covers %llu events but only %llu are "
                       "before the checkpoint of size %llu (stored data is "
                       "corrupt): run " LDG_CMD_VERIFY,
                       (unsigned long long)seal_seq,
                       (unsigned long long)o->seal.count,
                       (unsigned long long)got, (unsigned long long)x->cksize);
        return LDG_ECORRUPT;
    }
    o->seal_seq = seal_seq;
    return 0;
}

/* The open seal of ev, loaded (and its seals/<seal>.seal member written,
 * as stored but with its epoch part whole) at the first of its events the
 * bundle includes. Events come in increasing seq, so a seal whose last event is
 * before ev is done. */
static int
seal_of(struct ex *x, const struct ldg_event *ev, struct exseal **out)
{
    uint8_t rec[LDG_SEAL_REC_MAX], ext[LDG_SEAL_EXT_MAX];
    char name[64];
    size_t i, len;
    int rc;

    for (i = 0; i < x->nseals;) {
        if (x->seals[i].last_seq < ev->seq) {
            free(x->seals[i].dig);
            ldg_seal_tree_free(x->seals[i].tree);
            x->seals[i] = x->seals[--x->nseals];
            continue;
        }
        if (x->seals[i].seal_seq == ev->seal_seq) {
            *out = &x->seals[i];
            return 0;
        }
        i++;
    }
    if (x->nseals == x->capseals) {
        size_t cap = x->capseals ? x->capseals * 2 : 4;
        struct exseal *ns = realloc(x->seals, cap * sizeof *ns);
        if (ns == NULL)
            return LDG_ENOMEM;
        x->seals = ns;
        x->capseals = cap;
    }
    if ((rc = seal_load(x, ev->seq, ev->seal_seq, &x->seals[x->nseals])) < 0) {
        free(x->seals[x->nseals].dig);
        x->seals[x->nseals].dig = NULL;
        return rc;
    }
    *out = &x->seals[x->nseals++];
    {
        /* an epoch part goes whole: checked from the anchor alone */
        struct ldg_seal whole = (*out)->seal;
        if (whole.ext != NULL && x->epochs == NULL &&
            (rc = ldg_epoch_walk_new(x->l, &x->epochs)) < 0)
            return rc;
        if (whole.ext != NULL &&
            (rc = ldg_epoch_walk_whole(x->epochs, x->win.t, ev->seal_seq,
                                       &whole, ext, sizeof ext)) < 0)
            return rc;
        if ((rc = ldg_seal_record_encode(&whole, rec, sizeof rec, &len)) < 0)
            return rc;
    }
    snprintf(name, sizeof name, "seals/%llu.seal",
             (unsigned long long)ev->seal_seq);
    return ex_member(x, name, rec, len);
}

/* Format 2: seals/<seal>.seal (once per seal, as stored, an epoch part
 * whole) and
 * sealproofs/<seq>.proof: the RFC 6962 path from the event's claim digest
 * at index `leaf` among its seal's `count` to the seal's root, one base64
 * hash a line, bottom-up (docs/format-bundle.md section 12). */
static int
write_seal(struct ex *x, const struct ldg_event *ev)
{
    uint8_t path[LDG_PROOF_MAX][32];
    struct exseal *o;
    char name[64], *text;
    size_t np = 0, len;
    int rc;

    if ((rc = seal_of(x, ev, &o)) < 0)
        return rc;
    if (ev->seal_leaf >= o->seal.count || ev->seq > o->last_seq ||
        memcmp(o->dig[ev->seal_leaf], ev->digest, 32) != 0) {
        /* more entries name the seal than it counts: ledger verify says
         * "continues seal S, which is not open" */
        ldg_set_errmsg(
            x->l,
            "event %llu names leaf %llu of seal %llu, whose %llu "
            "events end at event %llu (stored data is corrupt): "
            "run " LDG_CMD_VERIFY,
            (unsigned long long)ev->seq, (unsigned long long)ev->seal_leaf,
            (unsigned long long)ev->seal_seq, (unsigned long long)o->seal.count,
            (unsigned long long)o->last_seq);
        return LDG_ECORRUPT;
    }
    if (o->tree == NULL &&
        (rc = ldg_seal_tree_new(&o->tree, (const uint8_t(*)[32])o->dig,
                                (size_t)o->seal.count)) < 0)
        return rc;
    if ((rc = ldg_seal_tree_proof(o->tree, (size_t)ev->seal_leaf, path, &np)) <
        0)
        return rc;
    text = malloc(np * 45 + 1);
    if (text == NULL)
        return LDG_ENOMEM;
    len = 0;
    for (size_t i = 0; i < np; i++) {
        ldg_base64(text + len, path[i], 32);
        len += 44;
        text[len++] = '\n';
    }
    LDG_ASSERT(len == np * 45);
    text[len] = '\0';
    snprintf(name, sizeof name, "sealproofs/%llu.proof",
             (unsigned long long)ev->seq);
    return ex_member_put(x, name, text, len, text);
}

int
ex_write_event(struct ex *x, const struct sel *s)
{
    struct ldg_event ev;
    enum bmode mode = BM_FULL;
    struct ldg_buf lb = {0};
    json_t *names = NULL, *shown = NULL;
    char name[48], *proof = NULL;
    int rc;

    /* The stored bytes go into the bundle as they are and the reader
     * checks everything, so the display decode is enough here; the leaf
     * hash is the stored one (it is what the proof is about). */
    if ((rc = ldg_event_get_ex(x->win.t, s->seq, &ev, LDG_DECODE_TRUSTED)) <
            0 ||
        (rc = ldg_tree_stored_hash(x->win.t, 0, s->seq, ev.leaf)) < 0) {
        ldg_set_errmsg(x->l, "event %llu: %s", (unsigned long long)s->seq,
                       ldg_strerror(rc));
        return rc;
    }
    snprintf(name, sizeof name, "entries/%llu.entry",
             (unsigned long long)s->seq);
    {
        /* the whole entry (a store keeps some without what a reader
         * derives: FORMAT.md 6.1) */
        uint8_t *whole = malloc(LDG_ENTRY_MAX);
        const uint8_t *e;
        size_t el;
        if (whole == NULL)
            return LDG_ENOMEM;
        rc = ldg_event_entry(x->win.t, s->seq, whole, LDG_ENTRY_MAX, &e, &el);
        if (rc == 0)
            rc = ex_member(x, name, e, el);
        free(whole);
        if (rc < 0)
            return rc;
    }
    if ((rc = ldg_proof_batch_text(x->proofs, s->seq, &proof, NULL)) < 0) {
        ldg_set_errmsg(x->l, "event %llu: inclusion proof: %s",
                       (unsigned long long)s->seq, ldg_strerror(rc));
        return rc;
    }
    snprintf(name, sizeof name, "proofs/%llu.proof",
             (unsigned long long)s->seq);
    if ((rc = ex_member_put(x, name, proof, strlen(proof), proof)) < 0)
        return rc;
    if (ev.sealed && (rc = write_seal(x, &ev)) < 0)
        return rc;
    names = json_array();
    shown = json_object();
    if (names == NULL || shown == NULL) {
        rc = LDG_ENOMEM;
        goto out;
    }
    if ((rc = body_member(x, &ev, &mode, &lb, shown, names)) < 0)
        goto out;
    /* the manifest's record, as text */
    {
        struct ldg_buf *m = &x->mevents;
        ldg_buf_puts(m, m->len ? ",\n  {\"seq\": " : "\n  {\"seq\": ");
        gb_u64(m, s->seq);
        ldg_buf_puts(m, ", \"type\": ");
        gb_jstr(m, ev.type);
        ldg_buf_puts(m, (s->role & ROLE_SELECTED) ? ", \"role\": \"selected\""
                                                  : ", \"role\": \"support\"");
        if ((s->role & ROLE_SELECTED) && (s->role & ROLE_SUPPORT))
            ldg_buf_puts(m, ", \"support\": true");
        ldg_buf_puts(m, ", \"body\": ");
        gb_jstr(m, bmode_name[mode]);
        if (mode == BM_REDACTED) {
            ldg_buf_puts(m, ", \"withheld\": ");
            gb_u64(m, json_array_size(names));
        }
        if (mode == BM_ERASED && s->erased_by != UINT64_MAX) {
            ldg_buf_puts(m, ", \"erased_by\": ");
            gb_u64(m, s->erased_by);
        }
        ldg_buf_puts(m, "}");
        if (m->err) {
            rc = m->err;
            goto out;
        }
    }
    if (s->role & ROLE_SELECTED)
        rc = jsonl_line(x, &ev, mode, &lb, shown, names);
out:
    free(lb.p);
    json_decref(names);
    json_decref(shown);
    return rc;
}

static json_t *
str_array(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

/* The projected state at the checkpoint, whole (the note signs digests
 * of whole projections). Failing to get it does not fail the export: the
 * manifest says why it is missing. */
void
ex_load_state(struct ex *x)
{
    json_t *st = NULL, *note;
    char msg[200];
    int rc;

    if (x->o->no_state) {
        snprintf(x->rep.state_detail, sizeof x->rep.state_detail, "%s",
                 x->o->no_state_why ? x->o->no_state_why
                                    : "left out on request");
        return;
    }
    /* The state folds bodies (who asked, what was granted, ...) and
     * cannot be redacted: with any redaction it stays out, or it would
     * carry what --redact withheld. */
    if (x->o->nredact_fields > 0 || x->o->nredact_types > 0) {
        snprintf(x->rep.state_detail, sizeof x->rep.state_detail,
                 "left out: it cannot be redacted, and fields or bodies "
                 "were");
        return;
    }
    snprintf(msg, sizeof msg, "%s", ldg_errmsg(x->l));
    rc = ldg_projections_state_json(x->l, x->cksize, &st);
    if (rc < 0) {
        snprintf(x->rep.state_detail, sizeof x->rep.state_detail,
                 "not available: %s",
                 ldg_errmsg(x->l)[0] ? ldg_errmsg(x->l) : ldg_strerror(rc));
        ldg_set_errmsg(x->l, "%s", msg);
        return;
    }
    note = json_object_get(st, "note");
    if (json_is_string(note))
        x->state_note = strdup(json_string_value(note));
    json_object_del(st, "note");
    x->state = st;
    x->rep.has_state = 1;
    snprintf(x->rep.state_detail, sizeof x->rep.state_detail,
             "included at size %llu, %s", (unsigned long long)x->cksize,
             x->state_note ? "with its signed projection note"
                           : "without a signed projection note");
}

int
ex_write_state(struct ex *x)
{
    int rc;
    if (x->state == NULL)
        return 0;
    rc = ex_member_json(x, B_STATE, json_incref(x->state), JSON_INDENT(1));
    if (rc == 0 && x->state_note != NULL)
        rc = ex_member(x, B_STATE_NOTE, x->state_note, strlen(x->state_note));
    return rc;
}

static json_t *
state_json(struct ex *x)
{
    if (x->state == NULL)
        return json_pack("{s:b, s:s}", "included", 0, "reason",
                         x->rep.state_detail);
    return json_pack("{s:b, s:o, s:s, s:o}", "included", 1, "size",
                     ldg_json_u64(x->cksize), "scope", "whole", "note",
                     x->state_note ? json_string(B_STATE_NOTE) : json_null());
}

static json_t *manifest_head_all(struct ex *x, uint64_t now_ns);

/* Everything in the manifest but its two long lists. Nothing names a
 * withheld field (docs/format-bundle.md, 4): only counts. */
static json_t *
manifest_head(struct ex *x, uint64_t now_ns)
{
    json_t *h = manifest_head_all(x, now_ns);
    /* created.by only when the caller gave it (--creator) */
    if (h != NULL && x->o->exported_by == NULL)
        json_object_del(json_object_get(h, "created"), "by");
    return h;
}

static json_t *
manifest_head_all(struct ex *x, uint64_t now_ns)
{
    const struct ldg_export_opts *o = x->o;
    char tbuf[64], rootb64[45];
    json_t *keys = json_array();

    ldg_time_rfc3339_ns(tbuf, sizeof tbuf, now_ns);
    ldg_base64(rootb64, x->root, 32);
    for (size_t i = 0; keys != NULL && i < x->nkeys; i++)
        json_array_append_new(keys, json_string(x->keys[i].id));
    return json_pack(
        "{s:s, s:s, s:s,"
        " s:{s:o, s:s, s:o, s:s},"
        " s:{s:o, s:o, s:o},"
        " s:{s:o, s:s},"
        " s:{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o},"
        " s:{s:o, s:o},"
        " s:o, s:o}",
        "format", LDG_BUNDLE_MAGIC, "origin", x->origin, "log_key", x->vkey,
        "created", "ts", ldg_json_u64(now_ns), "time", tbuf, "by",
        o->exported_by ? json_string(o->exported_by) : json_null(), "tool",
        LDG_CMD_EXPORT, "selection", "terms",
        str_array(o->terms, (size_t)o->nterms), "since",
        o->since ? json_string(o->since) : json_null(), "until",
        o->until ? json_string(o->until) : json_null(), "checkpoint", "size",
        ldg_json_u64(x->cksize), "root", rootb64, "counts", "selected",
        ldg_json_u64(x->rep.selected), "support", ldg_json_u64(x->rep.support),
        "entries", ldg_json_u64(x->nev), "bodies_full",
        ldg_json_u64(x->rep.bodies_full), "bodies_redacted",
        ldg_json_u64(x->rep.bodies_redacted), "bodies_withheld",
        ldg_json_u64(x->rep.bodies_withheld), "bodies_erased",
        ldg_json_u64(x->rep.bodies_erased), "fields_withheld",
        ldg_json_u64(x->rep.fields_withheld), "redaction", "fields",
        ldg_json_u64(o->nredact_fields), "body_types",
        str_array(o->redact_types, o->nredact_types), "keys", keys, "state",
        state_json(x));
}

/*
 * manifest.json: the head dumped by jansson (indent 1), then "events" and
 * "files" and "sizes" from the text built while writing, one record a line:
 *
 *   {
 *    "format": "ledger.bundle/v1",
 *    ...
 *    "state": {...},
 *    "events": [
 *     {"seq": "0", "type": "ledger.genesis", "role": "support", ...},
 *     ...
 *    ],
 *    "files": {
 *     "ledger-bundle": "<hex>",
 *     ...
 *    },
 *    "sizes": {
 *     "ledger-bundle": 17,
 *     ...
 *    }
 *   }
 */
static int
manifest_text(struct ex *x, uint64_t now_ns, struct ldg_buf *b)
{
    json_t *head = manifest_head(x, now_ns);
    char *s;
    size_t n;

    if (head == NULL)
        return LDG_ENOMEM;
    s = json_dumps(head, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(head);
    if (s == NULL)
        return LDG_ENOMEM;
    n = strlen(s);
    while (n > 0 && s[n - 1] != '}') /* drop the closing brace */
        n--;
    ldg_buf_add(b, s, n > 0 ? n - 1 : 0);
    free(s);
    while (b->len > 0 && b->p[b->len - 1] == '\n')
        b->len--;
    ldg_buf_puts(b, ",\n \"events\": [");
    ldg_buf_add(b, x->mevents.s ? x->mevents.s : "", x->mevents.len);
    ldg_buf_puts(b, "\n ],\n \"files\": {");
    ldg_buf_add(b, x->mfiles.s ? x->mfiles.s : "", x->mfiles.len);
    ldg_buf_puts(b, "\n },\n \"sizes\": {");
    ldg_buf_add(b, x->msizes.s ? x->msizes.s : "", x->msizes.len);
    ldg_buf_puts(b, "\n }\n}\n");
    return b->err;
}

/* manifest.json and manifest.sig, last. */
int
ex_write_manifest(struct ex *x, uint64_t now_ns)
{
    struct ldg_buf m = {0};
    char *note = NULL, text[sizeof B_SIG_PURPOSE + 80];
    uint8_t d[32];
    char hex[65];
    int rc;

    if ((rc = manifest_text(x, now_ns, &m)) < 0)
        goto out;
    ldg_sha256(d, m.p, m.len);
    ldg_hex(hex, d, 32);
    snprintf(text, sizeof text, "%s\n%s\n", B_SIG_PURPOSE, hex);
    rc = ldg_log_sign_note(x->l, text, strlen(text), &note);
    if (rc < 0)
        goto out;
    rc = bwriter_add(x->w, B_MANIFEST, m.p, m.len);
    if (rc == 0)
        rc = bwriter_add(x->w, B_MANIFEST_SIG, note, strlen(note));
    if (rc < 0)
        ldg_set_errmsg(x->l, "writing the manifest: %s", bwriter_errmsg(x->w));
    x->rep.files += 2;
out:
    free(m.p);
    free(note);
    return rc;
}
