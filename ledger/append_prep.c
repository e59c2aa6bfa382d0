/*
 * append_prep.c — an event prepared for the append path (append.c draws
 * it; append_int.h): validated, stamped, its body made, encoded and
 * signed, before any transaction (steps 1-4).
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

#include "ledger/append_int.h"
#include "ledger/epoch_int.h"
#include "ledger/intake_int.h"
#include "ledger/intake_log_int.h"
#include "ledger/keys_int.h"
#include "ledger/log_int.h"
#include "ledger/tlog_int.h"

/* ----------------------------------------------------------- prepared -- */

void
ldg_prep_release(struct ldg_prep *p)
{
    free(p->text);
    free((char *)(uintptr_t)p->source.exe);
    free((char *)(uintptr_t)p->source.unit);
    json_decref(p->body);
    ldg_body_rec_release(&p->body_rec);
    ldg_buf_release(&p->entry);
    memset(p, 0, sizeof *p);
}

/* ldg_batch_add_pruned is adding the prune's own event (this thread) */
_Thread_local int app_adding_pruned;

static int
copy_field(char *err, size_t errcap, char *dst, size_t cap, const char *src,
           const char *what)
{
    size_t n = strlen(src);
    if (n >= cap)
        return ldg_errf(err, errcap, LDG_ETOOBIG, "%s longer than %zu bytes",
                        what, cap - 1);
    /* text, as FORMAT.md 3 says: a field that is not UTF-8 would be
     * stored, then left out of every JSON that shows the event */
    if (!ldg_json_text_ok(src))
        return ldg_errf(err, errcap, LDG_EBADINPUT, "field '%s': not UTF-8",
                        what);
    memcpy(dst, src, n + 1);
    return 0;
}

static int
subject_valid(const char *s)
{
    const char *colon = strchr(s, ':');
    return colon != NULL && colon != s && colon[1] != '\0';
}

/* A key may sign only the types its roles allow (docs/FORMAT.md, "Key
 * roles"); the log key signs anything. */
int
app_roles_refuse(struct ldg_ledger *l, const struct ldg_key_state *ks,
                 const char *type)
{
    if (ks->added_seq == 0 || ldg_roles_mask_allows(ks->roles, type))
        return 0;
    ldg_seterr(l,
               "key '%s' (%s) may not sign %s: the roles it was added with "
               "at event %llu do not allow it (" LDG_CMD_KEYS_LIST
               " shows them)",
               ks->name, ks->key_id, type, (unsigned long long)ks->added_seq);
    return LDG_EKEY;
}

/* Step 1: everything that can be checked without the write transaction. */
/* Is the actor key added and not revoked, as the log is now? (Checked
 * again in the write transaction; this catches it per event, before it
 * can fail a whole group.) */
static int
actor_active(struct ldg_ledger *l, const struct ldg_key *k, const char *type)
{
    struct ldg_key_state ks;
    struct ldg_txn *t;
    int rc = ldg_txn_begin(l, LDG_TXN_READ, &t);
    if (rc < 0)
        return rc;
    rc = ldg_keys_lookup(t, k->key_id, &ks);
    ldg_txn_abort(t);
    if (rc == LDG_ENOTFOUND) {
        ldg_seterr(l, "key '%s' (%s) was never added to this ledger", k->name,
                   k->key_id);
        return LDG_EKEY;
    }
    if (rc < 0)
        return rc;
    if (strcmp(ks.name, k->name) != 0) {
        /* keys/alice.key holding bob's seed would sign as bob */
        ldg_seterr(l,
                   "key file for '%s' holds key %s, which the log registered "
                   "under the name '%s'; refusing to sign as '%s'",
                   k->name, k->key_id, ks.name, k->name);
        return LDG_EKEY;
    }
    if (ks.revoked_seq != UINT64_MAX) {
        ldg_seterr(l, "key '%s' (%s) was revoked at event %llu", k->name,
                   k->key_id, (unsigned long long)ks.revoked_seq);
        return LDG_EKEY;
    }
    return app_roles_refuse(l, &ks, type);
}

/* p's body record: with the client's salts (a sealed batch), else a
 * random seed of its own. Compressed with the ledger's newest dictionary. */
static int
prep_body(const struct ldg_ledger *l, struct ldg_prep *p, char *err,
          size_t errcap)
{
    const struct ldg_cdict *cd =
        ldg_ledger_cdict((struct ldg_ledger *)(uintptr_t)l);
    int rc;

    if (p->salts != NULL) {
        rc = ldg_body_prepare_salts(p->body, p->salts, cd, 0,
                                    l->opts.body_max_bytes, &p->body_rec, err,
                                    errcap);
    } else {
        uint8_t seed[LDG_SEED_LEN];
        ldg_random(seed, sizeof seed);
        rc = ldg_body_prepare_seeded(p->body, LDG_BODY_SEEDED_AES, seed, cd,
                                     l->opts.body_max_bytes, &p->body_rec, err,
                                     errcap);
        ldg_wipe(seed, sizeof seed);
    }
    return rc;
}

static int prep_event(struct ldg_prep *p, const struct ldg_event_in *in,
                      char *err, size_t errcap);
static int prep_actor(struct ldg_ledger *l, struct ldg_prep *p,
                      const char *actor, int in_txn, struct ldg_key *signer);
static int prep_body_of(const struct ldg_ledger *l, struct ldg_prep *p,
                        const json_t *body, const json_t *salts, char *err,
                        size_t errcap);

/* 1..max bytes without control characters (id) or NUL (exe, unit). */
static int
text_ok(const char *s, size_t max, int no_ctl)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; no_ctl && i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

/* The format version 2 fields: id (checked; prep_text keeps it), source
 * time, source. */
static int
prep_v2(struct ldg_prep *p, const struct ldg_event_in *in, char *err,
        size_t errcap)
{
    if (in->id != NULL) {
        if (!text_ok(in->id, LDG_ID_MAX, 1) || !ldg_json_text_ok(in->id))
            return ldg_errf(err, errcap, LDG_EBADINPUT,
                            "field 'id': must be 1 to %d bytes of UTF-8 "
                            "without control characters",
                            LDG_ID_MAX);
    }
    p->has_time = in->has_time;
    p->time_ns = in->time_ns;
    if (in->source != NULL) {
        const struct ldg_source *src = in->source;
        if ((src->exe != NULL && !text_ok(src->exe, LDG_EXE_MAX, 0)) ||
            (src->unit != NULL && !text_ok(src->unit, LDG_UNIT_MAX, 0)))
            return ldg_errf(err, errcap, LDG_EBADINPUT,
                            "source: exe is 1 to %d bytes, unit 1 to %d",
                            LDG_EXE_MAX, LDG_UNIT_MAX);
        p->has_source = 1;
        p->source.uid = src->uid;
        p->source.gid = src->gid;
        p->source.pid = src->pid;
        if ((src->exe != NULL && (p->source.exe = strdup(src->exe)) == NULL) ||
            (src->unit != NULL && (p->source.unit = strdup(src->unit)) == NULL))
            return ldg_errf(err, errcap, LDG_ENOMEM, "%s",
                            ldg_strerror(LDG_ENOMEM));
    }
    return 0;
}

int
ldg_prep_init(struct ldg_ledger *l, struct ldg_prep *p,
              const struct ldg_event_in *in)
{
    return app_prep_init_ex(l, p, in, 0, NULL, NULL);
}

/* in_txn: the caller holds the write transaction the event goes into, and
 * check_in_txn will judge the actor there (a read transaction here would
 * not see the key events of that transaction). */
int
app_prep_init_ex(struct ldg_ledger *l, struct ldg_prep *p,
                 const struct ldg_event_in *in, int in_txn,
                 struct ldg_key *signer, const json_t *salts)
{
    char err[sizeof l->errmsg];
    int rc;

    memset(p, 0, sizeof *p);
    if ((rc = prep_event(p, in, err, sizeof err)) < 0) {
        ldg_seterr(l, "%s", err);
        return rc;
    }
    if ((rc = prep_actor(l, p, in->actor, in_txn, signer)) < 0)
        return rc;
    if ((rc = prep_body_of(l, p, in->body, salts, err, sizeof err)) < 0) {
        ldg_seterr(l, "%s", err);
        return rc;
    }
    return 0;
}

/* p's subject, run and id at their own lengths, in one allocation
 * (p->text): an event waiting in the bulk writer's ring holds a few dozen
 * bytes of them, not the 787 of their largest sizes, so more events fit
 * in flight in the same memory (writer.c, RING). */
static int
prep_text(struct ldg_prep *p, const char *subject, const char *run,
          const char *id, char *err, size_t errcap)
{
    size_t ns = strlen(subject) + 1, nr = strlen(run) + 1, ni = strlen(id) + 1;
    char *t = malloc(ns + nr + ni);

    if (t == NULL)
        return ldg_errf(err, errcap, LDG_ENOMEM, "%s",
                        ldg_strerror(LDG_ENOMEM));
    memcpy(t, subject, ns);
    memcpy(t + ns, run, nr);
    memcpy(t + ns + nr, id, ni);
    free(p->text);
    p->text = t;
    p->subject = t;
    p->run = t + ns;
    p->id = t + ns + nr;
    return 0;
}

/* Step 1, the event itself: type, vocabulary, subject, run, id, time,
 * source, parent, the actor's name. Touches nothing but p: safe on any
 * thread (ldg_prepare). */
static int
prep_event(struct ldg_prep *p, const struct ldg_event_in *in, char *err,
           size_t errcap)
{
    char subject[LDG_SUBJECT_MAX + 1], run[LDG_RUN_MAX + 1];
    const json_t *body_run;
    int rc;

    subject[0] = run[0] = '\0';
    p->subject = p->run = p->id = ""; /* until prep_text */
    if (in == NULL || in->type == NULL)
        return ldg_errf(err, errcap, LDG_EBADINPUT, "field 'type': required");
    if (in->body != NULL && !json_is_object(in->body))
        return ldg_errf(err, errcap, LDG_EBADINPUT,
                        "field 'body': must be an object");
    if (strcmp(in->type, LDG_EV_LEDGER_PRUNED) == 0 && !app_adding_pruned)
        return ldg_errf(err, errcap, LDG_EBADINPUT,
                        "ledger.pruned is written by '" LDG_CMD_PRUNE "' only");
    rc = ldg_vocab_check(in->type, in->body, err, errcap);
    if (rc == 0 && strcmp(in->type, LDG_EV_KEY_ADDED) == 0)
        rc = ldg_roles_check(json_object_get(in->body, "roles"), err, errcap);
    if (rc < 0)
        return rc;
    if (strcmp(in->type, LDG_EV_LEDGER_GENESIS) == 0)
        return ldg_errf(err, errcap, LDG_EBADINPUT,
                        "ledger.genesis is written by '" LDG_CMD_INIT "' only");
    if ((rc = copy_field(err, errcap, p->type, sizeof p->type, in->type,
                         "type")) < 0)
        return rc;
    if (in->subject != NULL) {
        if ((rc = copy_field(err, errcap, subject, sizeof subject, in->subject,
                             "subject")) < 0)
            return rc;
        if (!subject_valid(subject))
            return ldg_errf(err, errcap, LDG_EBADINPUT,
                            "field 'subject': must be kind:name, got '%s'",
                            subject);
    } else if (ldg_vocab_subject(in->type, in->body, subject, sizeof subject) <
               0) {
        return ldg_errf(err, errcap, LDG_ETOOBIG,
                        "derived subject longer than %d bytes",
                        LDG_SUBJECT_MAX);
    }
    body_run = in->body ? json_object_get(in->body, "run") : NULL;
    if (in->run != NULL) {
        if (in->run[0] == '\0')
            /* Not "no run": an empty run id would be dropped from the
             * entry, so the caller's event would silently lose it. */
            return ldg_errf(err, errcap, LDG_EBADINPUT,
                            "field 'run': must not be empty (leave it out "
                            "for an event outside a run)");
        if ((rc = copy_field(err, errcap, run, sizeof run, in->run, "run")) < 0)
            return rc;
        if ((rc = ldg_vocab_run_check(in->type, in->body, in->run, err,
                                      errcap)) < 0)
            return rc;
    } else if (json_is_string(body_run)) {
        if ((rc = copy_field(err, errcap, run, sizeof run,
                             json_string_value(body_run), "body field 'run'")) <
            0)
            return rc;
    }
    if (strlen(run) != strlen(in->run ? in->run : run))
        return ldg_errf(err, errcap, LDG_EBADINPUT,
                        "field 'run': contains a NUL byte");
    if ((rc = prep_v2(p, in, err, errcap)) < 0 ||
        (rc = prep_text(p, subject, run, in->id ? in->id : "", err, errcap)) <
            0)
        return rc;
    p->has_parent = in->has_parent;
    p->parent = in->parent;
    if (in->actor != NULL && !ldg_key_name_valid(in->actor))
        return ldg_errf(err, errcap, LDG_EBADINPUT,
                        "field 'actor': invalid key name '%s'", in->actor);
    return 0;
}

/* Step 1, the actor: its key (the handle's key cache) and, as the log is
 * now, whether it may append this type (a read transaction). The
 * caller's thread, in the order events are added. */
static int
prep_actor(struct ldg_ledger *l, struct ldg_prep *p, const char *actor,
           int in_txn, struct ldg_key *signer)
{
    int rc;

    if (signer != NULL) /* a sealed batch's key (public only) */
        p->signer = signer;
    else if ((rc = ldg_actor_key(l, actor, &p->signer)) < 0)
        return rc;
    if ((strncmp(p->type, "key.", 4) == 0) && p->signer != l->log_key) {
        ldg_seterr(l, "%s must be signed by the log key", p->type);
        return LDG_EKEY;
    }
    if (!in_txn && signer == NULL && p->signer != l->log_key &&
        (rc = actor_active(l, p->signer, p->type)) < 0)
        return rc;
    return 0;
}

/* Step 1, the body: its record and commitment. The body's limits (size,
 * fields, depth) are checked here, so a bad body is refused on its own
 * and never fails a group commit. Reads only the handle's options: safe
 * on any thread. */
static int
prep_body_of(const struct ldg_ledger *l, struct ldg_prep *p, const json_t *body,
             const json_t *salts, char *err, size_t errcap)
{
    p->body = body ? json_incref((json_t *)(uintptr_t)body) : json_object();
    if (p->body == NULL)
        return ldg_errf(err, errcap, LDG_ENOMEM, "%s",
                        ldg_strerror(LDG_ENOMEM));
    p->salts = salts;
    return prep_body(l, p, err, errcap);
}

int
ldg_prep_genesis(struct ldg_ledger *l, struct ldg_prep *p)
{
    char hex[65], err[sizeof l->errmsg];
    json_t *body;
    int rc;

    memset(p, 0, sizeof *p);
    memcpy(p->type, LDG_EV_LEDGER_GENESIS, sizeof LDG_EV_LEDGER_GENESIS);
    p->subject = "host:local";
    p->run = p->id = "";
    p->signer = l->log_key;
    ldg_hex(hex, l->log_key->pub, 32);
    body = json_pack("{s:s, s:s}", "origin", l->origin, "log_key", hex);
    if (body == NULL)
        return LDG_ENOMEM;
    rc = prep_body_of(l, p, body, NULL, err, sizeof err);
    json_decref(body);
    if (rc < 0)
        ldg_seterr(l, "%s", err);
    return rc;
}

/* ------------------------------------------------ prepared elsewhere -- */

struct ldg_prepared *
ldg_prepared_alloc(void)
{
    return calloc(1, sizeof(struct ldg_prepared));
}

void
ldg_prepared_free(struct ldg_prepared *pe)
{
    if (pe == NULL)
        return;
    ldg_prep_release(&pe->p);
    free(pe);
}

/* Does the commit read p's body as JSON? Key events, erasures and the
 * genesis are judged and applied from it (check_in_txn, ldg_keys_apply). */
static int
prep_needs_json(const struct ldg_prep *p)
{
    return strncmp(p->type, "key.", 4) == 0 ||
           strcmp(p->type, LDG_EV_BODY_ERASED) == 0 ||
           strcmp(p->type, LDG_EV_LEDGER_GENESIS) == 0;
}

/* An event prepared for the bulk writer waits in its ring, maybe 10,000
 * of them: keep only what the commit stores. The body's JSON tree (about
 * 2 KB an event, freed here on the thread that made it) goes where the
 * commit does not read it (projections read the record, a duplicate's
 * body is compared decoded), and the record gives back its slack. */
void
ldg_prep_compact(struct ldg_prep *p)
{
    uint8_t *rec;

    if (p->body == NULL || p->body_rec.rec == NULL || p->salts != NULL ||
        prep_needs_json(p))
        return;
    json_decref(p->body);
    p->body = NULL;
    if (p->body_rec.raw == NULL) {
        if ((rec = realloc(p->body_rec.rec, p->body_rec.rec_len)) != NULL)
            p->body_rec.rec = rec;
    } else if ((rec = realloc(p->body_rec.raw,
                              p->body_rec.raw_len + p->body_rec.rec_len)) !=
               NULL) { /* raw holds rec after it */
        p->body_rec.raw = rec;
        p->body_rec.rec = rec + p->body_rec.raw_len;
    }
}

int
ldg_prepare(const struct ldg_ledger *l, const struct ldg_event_in *ev,
            struct ldg_prepared *pe)
{
    ldg_prep_release(&pe->p);
    pe->rc = pe->body_rc = 0;
    pe->err[0] = '\0';
    pe->has_actor = 0;
    pe->rc = prep_event(&pe->p, ev, pe->err, sizeof pe->err);
    if (pe->rc < 0)
        return 0;
    if (ev->actor != NULL) {
        /* valid by now: at most LDG_NAME_MAX bytes */
        memcpy(pe->actor, ev->actor, strlen(ev->actor) + 1);
        pe->has_actor = 1;
    }
    pe->body_rc =
        prep_body_of(l, &pe->p, ev->body, NULL, pe->err, sizeof pe->err);
    if (pe->body_rc == 0)
        ldg_prep_compact(&pe->p);
    return pe->body_rc == LDG_ENOMEM ? LDG_ENOMEM : 0;
}

const char *
ldg_prepared_actor(const struct ldg_prepared *pe)
{
    return pe->has_actor ? pe->actor : NULL;
}

/* The rest of step 1 for an event ldg_prepare made: its refusal, if it
 * had one, else its actor, else its body's refusal (the order
 * prep_init_ex judges them in). On success p holds the prep (moved out of
 * pe); on failure pe is emptied, the message set. */
int
ldg_prep_finish(struct ldg_ledger *l, struct ldg_prepared *pe,
                struct ldg_prep *p)
{
    int rc = pe->rc;

    if (rc == 0)
        rc = prep_actor(l, &pe->p, ldg_prepared_actor(pe), 0, NULL);
    else
        ldg_seterr(l, "%s", pe->err);
    if (rc == 0 && (rc = pe->body_rc) < 0)
        ldg_seterr(l, "%s", pe->err);
    if (rc < 0) {
        ldg_prep_release(&pe->p);
        return rc;
    }
    *p = pe->p;
    memset(&pe->p, 0, sizeof pe->p);
    return 0;
}

/* Format 2's step 4: the claim (0x93 ‖ claim in p->entry) and its digest.
 * Nothing in it depends on seq or ts: the stamp is written at store. */
static int
prep_claim(struct ldg_prep *p, uint64_t seq, uint64_t ts)
{
    struct ldg_claim c;
    uint8_t buf[1 + LDG_CLAIM_MAX];
    size_t n;
    int rc;

    memset(&c, 0, sizeof c);
    memcpy(c.actor, p->signer->key_id, sizeof c.actor);
    memcpy(c.body, p->body_rec.root, 32);
    c.id = p->id;
    c.id_len = strlen(p->id);
    c.has_parent = p->has_parent;
    c.parent = p->parent;
    c.run = p->run;
    c.run_len = strlen(p->run);
    c.subject = p->subject;
    c.subject_len = strlen(p->subject);
    c.has_time = p->has_time;
    c.time_ns = p->time_ns;
    c.type = p->type;
    c.type_len = strlen(p->type);
    buf[0] = 0x93;
    if ((rc = ldg_claim_encode(&c, buf + 1, sizeof buf - 1, &n)) < 0)
        return rc;
    ldg_claim_digest(p->digest, buf + 1, n);
    ldg_buf_init(&p->entry, LDG_ENTRY_MAX);
    /* Room for the stamp and prev too (store_checked appends them on the
     * commit thread): one allocation here, no realloc there. */
    (void)ldg_buf_room(&p->entry, 1 + n + STAMP_ROOM);
    ldg_buf_add(&p->entry, buf, 1 + n);
    if (p->entry.err)
        return p->entry.err;
    p->map_len = n;
    p->seq = seq;
    p->ts = ts;
    p->signed_ok = 1;
    return 0;
}

/* Steps 2-4 for a given stamp. Thread-safe: touches only p and read-only
 * handle fields. */
int
ldg_prep_sign(const struct ldg_ledger *l, struct ldg_prep *p, uint64_t seq,
              uint64_t ts)
{
    struct ldg_envelope env;
    int rc;

    ldg_buf_release(&p->entry);
    p->signed_ok = 0;
    /* the body's record is made once, in step 1 (its salts are random) */
    if (LDG_NEVER(p->body_rec.rec == NULL))
        return LDG_EINVAL;
    if (l->format >= 2)
        return prep_claim(p, seq, ts);
    memset(&env, 0, sizeof env);
    env.seq = seq;
    env.ts_ns = ts;
    env.type = p->type;
    env.subject = p->subject;
    env.run = p->run;
    env.actor = p->signer->key_id;
    env.has_parent = p->has_parent;
    env.parent = p->parent;
    memcpy(env.body_root, p->body_rec.root, 32);
    env.id = p->id;
    env.has_time = p->has_time;
    env.time_ns = p->time_ns;
    env.source = p->has_source ? &p->source : NULL;
    ldg_buf_init(&p->entry, LDG_ENTRY_MAX);
    rc = ldg_entry_encode(&p->entry, &env, &p->map_len);
    if (rc < 0)
        return rc;
    rc = ldg_ed25519_sign_ctx(p->sig, LDG_CTX_EVENT, p->entry.p + 1, p->map_len,
                              p->signer);
    if (rc < 0)
        return rc;
    p->seq = seq;
    p->ts = ts;
    p->signed_ok = 1;
    return 0;
}
