/*
 * append.c — appending events: one (ldg_append) or a group in one
 * transaction (ldg_batch_*); the bulk writer (writer.c) drives the same steps.
 *
 *
 * The append path, for a group of events in one LMDB write transaction:
 *
 *   1. validate (vocabulary, sizes, actor key)      -- before the txn
 *   2. stamp: seq = log size + i, ts = max(clock, last ts + 1)
 *   3. body: salts, field digests, commitment, stored record
 *   4. encode the event map and sign it (ctx "ledger/event/v1")
 *   5. finish the entry with prev = leaf hash of entry seq-1
 *   6. put entry, body, Merkle stored hashes, indexes, key registry;
 *      run the appliers (projections) on the same transaction
 *   7. after the last event: sign a checkpoint of the new tree size
 *   8. commit (fsync) -- only now is anything acknowledged
 *
 * Steps 2-4 do not depend on the previous entry (the signature covers the
 * event map, not prev), so the bulk writer does them ahead of time on
 * worker threads with a predicted seq and ts, and step 6 checks that the
 * prediction held (another process may have appended in between); if not,
 * it stamps and signs again.
 *
 * A full map aborts the transaction, grows the map and redoes the group;
 * nothing of the group was acknowledged, nothing before it is touched.
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

#include "ledger/epoch_int.h"
#include "ledger/ledger_int.h"
#include "ledger/intake_int.h"
#include "ledger/tlog_int.h"

#define GROW_RETRIES 24
/* ldg_commit_spans drops the map's resident pages every this many events
 * (a power of two). */
#define TRIM_EVERY 1024
/* A stamp without source (digest, leaf, seal, seq, ts: at most 95 bytes)
 * and prev (34 bytes). */
#define STAMP_ROOM 160

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
static _Thread_local int adding_pruned;

static int
copy_field(char *err, size_t errcap, char *dst, size_t cap, const char *src,
           const char *what)
{
    size_t n = strlen(src);
    if (n >= cap)
        return ldg_errf(err, errcap, LDG_ETOOBIG, "%s longer than %zu bytes",
                        what, cap - 1);
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
static int
roles_refuse(struct ldg_ledger *l, const struct ldg_key_state *ks,
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
    return roles_refuse(l, &ks, type);
}

/* p's body record: with the client's salts (a sealed batch), else a seed
 * of its own (seeded by seq in test mode); p->body_seq says for which seq.
 * Compressed with the ledger's newest dictionary. */
static int
prep_body(const struct ldg_ledger *l, struct ldg_prep *p, uint64_t seq,
          char *err, size_t errcap)
{
    const struct ldg_cdict *cd =
        ldg_ledger_cdict((struct ldg_ledger *)(uintptr_t)l);
    const uint8_t *test = l->has_salt_seed ? l->salt_seed : NULL;
    int rc;

    if (p->salts != NULL) {
        rc = ldg_body_prepare_salts(p->body, p->salts, cd, 0,
                                    l->opts.body_max_bytes, &p->body_rec, err,
                                    errcap);
    } else {
        uint8_t seed[LDG_SEED_LEN];
        ldg_body_seed_for(seed, test, seq);
        rc = ldg_body_prepare_seeded(p->body, LDG_BODY_SEEDED_AES, seed, cd,
                                     l->opts.body_max_bytes, &p->body_rec, err,
                                     errcap);
        ldg_wipe(seed, sizeof seed);
    }
    if (rc == 0)
        p->body_seq = seq;
    return rc;
}

static int prep_init_ex(struct ldg_ledger *l, struct ldg_prep *p,
                        const struct ldg_event_in *in, uint64_t seq_hint,
                        int in_txn, struct ldg_key *signer,
                        const json_t *salts);
static int prep_event(struct ldg_prep *p, const struct ldg_event_in *in,
                      char *err, size_t errcap);
static int prep_actor(struct ldg_ledger *l, struct ldg_prep *p,
                      const char *actor, int in_txn, struct ldg_key *signer);
static int prep_body_of(const struct ldg_ledger *l, struct ldg_prep *p,
                        const json_t *body, uint64_t seq_hint,
                        const json_t *salts, char *err, size_t errcap);

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
        if (!text_ok(in->id, LDG_ID_MAX, 1))
            return ldg_errf(err, errcap, LDG_EBADINPUT,
                            "field 'id': must be 1 to %d bytes without "
                            "control characters",
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
              const struct ldg_event_in *in, uint64_t seq_hint)
{
    return prep_init_ex(l, p, in, seq_hint, 0, NULL, NULL);
}

/* in_txn: the caller holds the write transaction the event goes into, and
 * check_in_txn will judge the actor there (a read transaction here would
 * not see the key events of that transaction). */
static int
prep_init_ex(struct ldg_ledger *l, struct ldg_prep *p,
             const struct ldg_event_in *in, uint64_t seq_hint, int in_txn,
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
    if ((rc = prep_body_of(l, p, in->body, seq_hint, salts, err, sizeof err)) <
        0) {
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
    if (strcmp(in->type, LDG_EV_LEDGER_PRUNED) == 0 && !adding_pruned)
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
             uint64_t seq_hint, const json_t *salts, char *err, size_t errcap)
{
    p->body = body ? json_incref((json_t *)(uintptr_t)body) : json_object();
    if (p->body == NULL)
        return ldg_errf(err, errcap, LDG_ENOMEM, "%s",
                        ldg_strerror(LDG_ENOMEM));
    p->salts = salts;
    return prep_body(l, p, seq_hint, err, errcap);
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
 * genesis are judged and applied from it (check_in_txn, ldg_keys_apply),
 * and with seeded salts (test mode) the record is made again for the
 * event's seq. */
static int
prep_needs_json(const struct ldg_ledger *l, const struct ldg_prep *p)
{
    return l->has_salt_seed || strncmp(p->type, "key.", 4) == 0 ||
           strcmp(p->type, LDG_EV_BODY_ERASED) == 0 ||
           strcmp(p->type, LDG_EV_LEDGER_GENESIS) == 0;
}

/* An event prepared for the bulk writer waits in its ring, maybe 10,000
 * of them: keep only what the commit stores. The body's JSON tree (about
 * 2 KB an event, freed here on the thread that made it) goes where the
 * commit does not read it (projections read the record, a duplicate's
 * body is compared decoded), and the record gives back its slack. */
void
ldg_prep_compact(const struct ldg_ledger *l, struct ldg_prep *p)
{
    uint8_t *rec;

    if (p->body == NULL || p->body_rec.rec == NULL || p->salts != NULL ||
        prep_needs_json(l, p))
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
    /* seq 0: the writer prepares it again for its seq where salts depend
     * on it (test mode) */
    pe->body_rc =
        prep_body_of(l, &pe->p, ev->body, 0, NULL, pe->err, sizeof pe->err);
    if (pe->body_rc == 0)
        ldg_prep_compact(l, &pe->p);
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
    char err[256];
    int rc;

    ldg_buf_release(&p->entry);
    p->signed_ok = 0;
    /* Salts depend on seq only in test mode (seeded salts). */
    if (p->body_rec.rec == NULL ||
        (l->has_salt_seed && p->salts == NULL && p->body_seq != seq)) {
        ldg_body_rec_release(&p->body_rec);
        if ((rc = prep_body(l, p, seq, err, sizeof err)) < 0)
            return rc;
    }
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

/* The tail of the log as seen by t: size, last ts, last leaf hash. */
struct tail {
    uint64_t size, ts;
    uint8_t leaf[32];
};

static int
read_tail(struct ldg_txn *t, struct tail *tl)
{
    struct ldg_event ev;
    int rc;

    memset(tl, 0, sizeof *tl);
    /* one layout to append to: the newest (an older one is read, and
     * converted by ledger migrate) */
    if ((rc = ldg_txn_writable(t)) < 0)
        return rc;
    rc = ldg_txn_size(t, &tl->size);
    if (rc < 0 || tl->size == 0)
        return rc;
    rc = ldg_event_get(t, tl->size - 1, &ev);
    if (rc < 0)
        return rc == LDG_ENOTFOUND ? LDG_ECORRUPT : rc;
    tl->ts = ev.ts_ns;
    memcpy(tl->leaf, ev.leaf, 32);
    return 0;
}

const char *
ldg_dup_diff_names(unsigned differs, char *buf, size_t cap)
{
    static const char *const names[] = {"type",  "subject", "run", "parent",
                                        "actor", "time",    "body"};
    size_t n = 0;
    if (cap == 0)
        return buf;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (differs & (1u << i))
            n += (size_t)snprintf(buf + (n < cap ? n : cap - 1),
                                  n < cap ? cap - n : 1, "%s%s",
                                  n > 0 ? ", " : "", names[i]);
    return buf;
}

/* What of p differs from event seq, which already carries p's id. */
static int
dup_differs(struct ldg_txn *t, const struct ldg_prep *p, uint64_t seq,
            unsigned *differs)
{
    struct ldg_event ev;
    json_t *body = NULL;
    int rc = ldg_event_get(t, seq, &ev);

    *differs = 0;
    if (rc < 0)
        return rc == LDG_ENOTFOUND ? LDG_ECORRUPT : rc;
    if (strcmp(ev.type, p->type) != 0)
        *differs |= LDG_DIFF_TYPE;
    if (strcmp(ev.subject, p->subject) != 0)
        *differs |= LDG_DIFF_SUBJECT;
    if (strcmp(ev.run, p->run) != 0)
        *differs |= LDG_DIFF_RUN;
    if (ev.has_parent != p->has_parent ||
        (p->has_parent && ev.parent != p->parent))
        *differs |= LDG_DIFF_PARENT;
    if (strcmp(ev.actor, p->signer->key_id) != 0)
        *differs |= LDG_DIFF_ACTOR;
    if (ev.has_time != p->has_time || (p->has_time && ev.time_ns != p->time_ns))
        *differs |= LDG_DIFF_TIME;
    rc = ldg_body_get(t, seq, &body);
    if (rc == LDG_EERASED)
        return 0; /* nothing left to compare with */
    if (rc < 0)
        return rc;
    if (p->body != NULL) {
        if (!json_equal(body, p->body))
            *differs |= LDG_DIFF_BODY;
    } else {
        /* the writer kept only the record (ldg_prep_compact): compare it
         * decoded, as the stored one is */
        json_t *mine = NULL;
        rc = ldg_body_decode_json(
            ldg_txn_dicts(t), p->body_rec.rec, p->body_rec.rec_len,
            ldg_txn_ledger(t)->opts.body_max_bytes, &mine);
        if (rc < 0) {
            json_decref(body);
            return rc;
        }
        if (!json_equal(body, mine))
            *differs |= LDG_DIFF_BODY;
        json_decref(mine);
    }
    json_decref(body);
    return 0;
}

/* p's id already in the log (or earlier in this transaction)? 1 and
 * p->dup, dup_seq, dup_differs set; 0 if not (or p has no id). */
static int
find_dup(struct ldg_txn *t, struct ldg_prep *p)
{
    uint64_t have;
    int rc;

    p->dup = 0;
    p->dup_differs = 0;
    if (p->id[0] == '\0')
        return 0;
    rc = ldg_index_id_lookup(t, p->id, strlen(p->id), &have);
    if (rc == LDG_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    if ((rc = dup_differs(t, p, have, &p->dup_differs)) < 0)
        return rc;
    p->dup = 1;
    p->dup_seq = have;
    return 1;
}

/* The message of an id already in the log. */
static void
dup_message(struct ldg_ledger *l, const struct ldg_prep *p)
{
    char what[96];
    if (p->dup_differs)
        ldg_seterr(l,
                   "id '%s' is already event %llu, which differs from this "
                   "one in %s: not appended again",
                   p->id, (unsigned long long)p->dup_seq,
                   ldg_dup_diff_names(p->dup_differs, what, sizeof what));
    else
        ldg_seterr(l, "id '%s' is already event %llu: not appended again",
                   p->id, (unsigned long long)p->dup_seq);
}

/* Semantic checks that need the log: key events, erasure, parent links,
 * actor validity at this point. */
static int
check_in_txn(struct ldg_txn *t, struct ldg_prep *p, uint64_t seq, int *erase,
             uint64_t *erase_target)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_key_state ks;
    int rc;

    *erase = 0;
    if ((rc = find_dup(t, p)) != 0) {
        if (rc > 0) {
            dup_message(l, p);
            return LDG_EDUPLICATE;
        }
        return rc;
    }
    if (p->has_parent && p->parent >= seq) {
        ldg_seterr(l, "parent %llu is not an earlier event than %llu",
                   (unsigned long long)p->parent, (unsigned long long)seq);
        return LDG_EBADINPUT;
    }
    if (seq > 0) {
        rc = ldg_keys_lookup(t, p->signer->key_id, &ks);
        if (rc == LDG_ENOTFOUND) {
            ldg_seterr(l, "key '%s' (%s) was never added to this ledger",
                       p->signer->name, p->signer->key_id);
            return LDG_EKEY;
        }
        if (rc < 0)
            return rc;
        if (ks.revoked_seq != UINT64_MAX) {
            ldg_seterr(l, "key '%s' (%s) was revoked at event %llu",
                       p->signer->name, p->signer->key_id,
                       (unsigned long long)ks.revoked_seq);
            return LDG_EKEY;
        }
        if ((rc = roles_refuse(l, &ks, p->type)) < 0)
            return rc;
    }
    if (strcmp(p->type, LDG_EV_KEY_ADDED) == 0) {
        const char *hex =
            json_string_value(json_object_get(p->body, "public_key"));
        const char *id = json_string_value(json_object_get(p->body, "key_id"));
        const char *name = json_string_value(json_object_get(p->body, "actor"));
        uint8_t pub[32];
        char want[LDG_KEYID_LEN + 1];
        if (ldg_unhex(pub, 32, hex) < 0) {
            ldg_seterr(l, "key.added: field 'public_key': must be 64 hex "
                          "digits");
            return LDG_EBADINPUT;
        }
        ldg_key_id(want, pub);
        if (strcmp(want, id) != 0) {
            ldg_seterr(l,
                       "key.added: field 'key_id': is %s, the key's id "
                       "is %s",
                       id, want);
            return LDG_EBADINPUT;
        }
        if (!ldg_key_name_valid(name)) {
            ldg_seterr(l, "key.added: field 'actor': invalid key name");
            return LDG_EBADINPUT;
        }
        if (ldg_keys_lookup(t, id, &ks) == 0) {
            ldg_seterr(l, "key %s was already added at event %llu", id,
                       (unsigned long long)ks.added_seq);
            return LDG_EEXIST;
        }
        if (ldg_keys_lookup_name(t, name, &ks) == 0 &&
            ks.revoked_seq == UINT64_MAX) {
            ldg_seterr(l, "a key named '%s' is already active (%s)", name,
                       ks.key_id);
            return LDG_EEXIST;
        }
    } else if (strcmp(p->type, LDG_EV_KEY_REVOKED) == 0) {
        const char *id = json_string_value(json_object_get(p->body, "key_id"));
        if (ldg_keys_lookup(t, id, &ks) < 0) {
            ldg_seterr(l, "key.revoked: no key %s in this ledger", id);
            return LDG_EBADINPUT;
        }
        if (strcmp(id, l->log_key->key_id) == 0) {
            ldg_seterr(l, "the log key cannot be revoked");
            return LDG_EBADINPUT;
        }
        if (ks.revoked_seq != UINT64_MAX) {
            ldg_seterr(l, "key %s was already revoked at event %llu", id,
                       (unsigned long long)ks.revoked_seq);
            return LDG_EBADINPUT;
        }
    } else if (strcmp(p->type, LDG_EV_BODY_ERASED) == 0) {
        json_int_t tgt =
            json_integer_value(json_object_get(p->body, "target_seq"));
        struct ldg_event tev;
        struct ldg_val v;
        uint8_t k[8];
        if (tgt < 0 || (uint64_t)tgt >= seq) {
            ldg_seterr(l,
                       "body.erased: field 'target_seq': %lld is not an "
                       "earlier event",
                       (long long)tgt);
            return LDG_EBADINPUT;
        }
        if ((rc = ldg_event_get(t, (uint64_t)tgt, &tev)) < 0)
            return rc;
        if (strcmp(tev.type, LDG_EV_LEDGER_GENESIS) == 0 ||
            strncmp(tev.type, "key.", 4) == 0 ||
            strcmp(tev.type, LDG_EV_BODY_ERASED) == 0) {
            ldg_seterr(l,
                       "body.erased: event %lld (%s) is needed for "
                       "verification and cannot be erased",
                       (long long)tgt, tev.type);
            return LDG_EBADINPUT;
        }
        ldg_be64(k, (uint64_t)tgt);
        if (ldg_kv_get(t, ldg_core(l, ldg_db_bodies(t)), k, 8, &v) != 0) {
            ldg_seterr(l, "body.erased: event %lld is already erased",
                       (long long)tgt);
            return LDG_EBADINPUT;
        }
        *erase = 1;
        *erase_target = (uint64_t)tgt;
    }
    return 0;
}

static const json_t *
empty_object(void)
{
    static json_t *empty;
    if (empty == NULL)
        empty = json_object();
    return empty;
}

/* The appliers (projections) on event ev, p's. Where the writer kept
 * only p's body record, an applier that reads records gets it; the
 * others (or one that cannot read it in place) the body decoded. */
static int
apply_all(struct ldg_txn *t, const json_t *body, const struct ldg_body_rec *br,
          const struct ldg_event *ev)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    const json_t *json = body;
    json_t *decoded = NULL;
    int rc = 0;

    if (json == NULL && br->rec == NULL)
        json = empty_object();
    for (size_t i = 0; rc == 0 && i < l->nappliers; i++) {
        const struct ldg_applier *a = &l->appliers[i];
        int done = 0;
        if (json == NULL && a->apply_record != NULL) {
            /* the record uncompressed when the writer kept it so */
            rc = br->raw != NULL
                     ? a->apply_record(a->ctx, t, ev, br->raw, br->raw_len)
                     : a->apply_record(a->ctx, t, ev, br->rec, br->rec_len);
            done = rc != 1;
        }
        if (!done) {
            rc = 0;
            if (json == NULL && (rc = ldg_body_decode_json(
                                     ldg_txn_dicts(t), br->rec, br->rec_len,
                                     l->opts.body_max_bytes, &decoded)) == 0)
                json = decoded;
            if (rc == 0)
                rc = a->apply(a->ctx, t, ev, json);
        }
        if (rc < 0 && ldg_errbuf(l)[0] == '\0')
            ldg_seterr(l, "event %llu: projection '%s' failed: %s",
                       (unsigned long long)ev->seq, a->name, ldg_strerror(rc));
    }
    json_decref(decoded);
    return rc;
}

static int store_checked(struct ldg_txn *t, struct ldg_prep *p,
                         const uint8_t prev[32], uint8_t leaf_out[32],
                         int erase, uint64_t target);
static int store_event(struct ldg_txn *t, struct ldg_event *ev,
                       const struct ldg_body_rec *br, const json_t *body,
                       int erase, uint64_t target);

/* Steps 5-6 for one prepared, signed event. */
static int
store_one(struct ldg_txn *t, struct ldg_prep *p, const uint8_t prev[32],
          uint8_t leaf_out[32])
{
    int rc, erase = 0;
    uint64_t target = 0;

    rc = check_in_txn(t, p, p->seq, &erase, &target);
    if (rc < 0)
        return rc;
    return store_checked(t, p, prev, leaf_out, erase, target);
}

/* Stores an event check_in_txn accepted. A failure here leaves the
 * transaction half-written: it must be aborted. */
static int
store_checked(struct ldg_txn *t, struct ldg_prep *p, const uint8_t prev[32],
              uint8_t leaf_out[32], int erase, uint64_t target)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_event ev;
    int rc;

    p->entry.len = 1 + p->map_len; /* drop a trailer from a retried try */
    memset(&ev, 0, sizeof ev);
    if (l->format >= 2) {
        struct ldg_stamp st;
        memcpy(st.digest, p->digest, 32);
        st.leaf = p->seal_leaf;
        st.seal = p->seal_seq;
        st.seq = p->seq;
        st.ts = p->ts;
        st.source = p->has_source ? &p->source : NULL;
        if ((rc = ldg_entry2_finish(&p->entry, &st, prev)) < 0)
            return rc;
        ev.sealed = 1;
        ev.seal_seq = p->seal_seq;
        ev.seal_leaf = p->seal_leaf;
        memcpy(ev.digest, p->digest, 32);
    } else if ((rc = ldg_entry_finish(&p->entry, prev, p->sig)) < 0) {
        return rc;
    }
    ev.seq = p->seq;
    ev.ts_ns = p->ts;
    memcpy(ev.type, p->type, sizeof ev.type);
    /* prep_event kept them within the event's arrays */
    LDG_ASSERT(strlen(p->subject) < sizeof ev.subject &&
               strlen(p->run) < sizeof ev.run);
    memcpy(ev.subject, p->subject, strlen(p->subject) + 1);
    memcpy(ev.run, p->run, strlen(p->run) + 1);
    memcpy(ev.actor, p->signer->key_id, sizeof ev.actor);
    ev.has_parent = p->has_parent;
    ev.parent = p->parent;
    memcpy(ev.prev, prev, 32);
    memcpy(ev.body_root, p->body_rec.root, 32);
    if (l->format < 2)
        memcpy(ev.sig, p->sig, 64);
    ev.entry = p->entry.p;
    ev.entry_len = p->entry.len;
    ev.signed_part = p->entry.p + 1;
    ev.signed_len = p->map_len;
    ev.id = p->id;
    ev.id_len = strlen(p->id);
    ev.has_time = p->has_time;
    ev.time_ns = p->time_ns;
    if (p->has_source) {
        ev.has_source = 1;
        ev.src_uid = p->source.uid;
        ev.src_gid = p->source.gid;
        ev.src_pid = p->source.pid;
        ev.src_exe = p->source.exe;
        ev.src_exe_len = p->source.exe ? strlen(p->source.exe) : 0;
        ev.src_unit = p->source.unit;
        ev.src_unit_len = p->source.unit ? strlen(p->source.unit) : 0;
    }
    ldg_tlog_leaf_hash(ev.leaf, ev.entry, ev.entry_len);
    if ((rc = store_event(t, &ev, &p->body_rec, p->body, erase, target)) < 0)
        return rc;
    if (l->frame != NULL &&
        (rc = ldg_intake_build_event(l->frame, ev.entry, ev.entry_len,
                                     p->body_rec.rec, p->body_rec.rec_len)) < 0)
        return rc;
    memcpy(leaf_out, ev.leaf, 32);
    return 0;
}

/*
 * Stores a decoded event ev (its entry whole, its leaf hash in ev->leaf)
 * with its body record br and body (NULL: decoded from br where needed)
 * in every database the append keeps: the entry's stored form, the body,
 * the tree, the indexes, the body index, the key registry, an erasure,
 * the projections. The one path of an event into the store, from an
 * append (store_checked) or from the intake log (ldg_intake_apply_frame).
 */
static int
store_event(struct ldg_txn *t, struct ldg_event *evp,
            const struct ldg_body_rec *br, const json_t *body, int erase,
            uint64_t target)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_event ev = *evp;
    json_t *decoded = NULL;
    uint8_t k[8];
    int rc;

    /* the key registry reads the body itself */
    if (body == NULL && br->rec != NULL &&
        (strncmp(ev.type, "key.", 4) == 0 ||
         strcmp(ev.type, LDG_EV_LEDGER_GENESIS) == 0)) {
        if ((rc = ldg_body_decode_json(ldg_txn_dicts(t), br->rec, br->rec_len,
                                       l->opts.body_max_bytes, &decoded)) < 0)
            return rc;
        body = decoded;
    }
    /* stored without what a reader derives (prev), a sealed one with its
     * claim digest raw before it (layout 8): FORMAT.md 6.1 */
    {
        uint8_t cut[LDG_ENTRY_MAX];
        size_t cut_len;
        if ((rc = ldg_entry_stored(ev.entry, ev.entry_len, LDG_STORED_TAGGED,
                                   cut, sizeof cut, &cut_len)) < 0)
            goto out;
        ldg_be64(k, ev.seq);
        rc =
            ldg_kv_put_new(t, ldg_core(l, LDG_DB_ENTRIES5), k, 8, cut, cut_len);
    }
    if (rc == 0) {
        /* The body's key is the entry's: past every other (LMDB's append,
         * no search from the root). */
        rc = ldg_kv_put_new(t, ldg_core(l, LDG_DB_BODIES5), k, 8, br->rec,
                            br->rec_len);
        if (rc == LDG_EEXIST) /* not last after all: as before */
            rc = ldg_core_kv_put(t, ldg_core(l, LDG_DB_BODIES5), k, 8, br->rec,
                                 br->rec_len);
    }
    if (rc == 0 && !(l->opts.flags & LDG_BENCH_NOTREE))
        rc = ldg_tree_add_leaf(t, ev.seq, ev.leaf);
    else if (rc == 0) /* the leaf hashes the next append reads, no more */
        rc = ldg_tree_add_leaf_only(t, ev.seq, ev.leaf);
    if (rc == 0)
        rc = ldg_index_put(t, &ev);
    if (rc == 0)
        rc = ldg_bix_append(t, ev.seq, br->raw ? br->raw : br->rec,
                            br->raw ? br->raw_len : br->rec_len, body);
    if (rc == 0)
        rc = ldg_keys_apply(t, &ev, body);
    if (rc == 0 && erase) /* the erased values leave the body index too */
        rc = ldg_bix_erase(t, target);
    if (rc == 0 && erase) {
        ldg_be64(k, target);
        rc = ldg_core_kv_del(t, ldg_core(l, LDG_DB_BODIES5), k, 8, NULL, 0);
    }
    if (rc == 0 && l->nappliers > 0)
        rc = apply_all(t, body, br, &ev);
out:
    json_decref(decoded);
    return rc;
}

/* ------------------------------------------------------------ sealing -- */

/*
 * Format 2: each key that appends in a commit seals its events of that
 * commit with one seal, opened at its first event there (FORMAT.md
 * section 3.3). A seal_set holds the open ones; closing signs each root
 * once and stores the seal and the key's new sealed count.
 */
struct open_seal {
    const struct ldg_key *key; /* ledger-held: has its secret */
    uint64_t seal_seq, first;
    struct ldg_seal_acc acc;
};
struct seal_set {
    struct open_seal *s;
    size_t n, cap;
};

static void
seal_set_release(struct seal_set *ss)
{
    free(ss->s);
    memset(ss, 0, sizeof *ss);
}

/* Stores a signed seal whose first event is seal_seq, and the key's
 * sealed count after it. */
static int
seal_store(struct ldg_txn *t, uint64_t seal_seq, const struct ldg_seal *s)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    uint8_t rec[LDG_SEAL_REC_MAX], k[LDG_SEQ_KEY_LEN];
    size_t n;
    int rc;

    if ((rc = ldg_seal_record_encode(s, rec, sizeof rec, &n)) < 0)
        return rc;
    ldg_be64(k, seal_seq);
    /* seals close in any order within a commit: no put_new (sorts last),
     * but never over another */
    {
        struct ldg_val v;
        rc = ldg_kv_get(t, ldg_core(l, LDG_DB_SEALS), k, LDG_SEQ_KEY_LEN, &v);
        if (rc == 0)
            return LDG_ECORRUPT;
        if (rc != LDG_ENOTFOUND)
            return rc;
    }
    rc = ldg_core_kv_put(t, ldg_core(l, LDG_DB_SEALS), k, LDG_SEQ_KEY_LEN, rec,
                         n);
    if (rc == 0)
        rc = ldg_keys_sealed_put(t, s->key_id, s->first + s->count);
    if (rc == 0)
        rc = ldg_epoch_seal_stored(t, seal_seq, s, 0);
    return rc;
}

static int
seal_close_one(struct ldg_txn *t, struct open_seal *o)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_seal s;
    uint8_t ext[LDG_EPOCH_EXT_MAX];
    int rc;

    memset(&s, 0, sizeof s);
    LDG_ASSERT(o->acc.count >= 1); /* a seal is opened by its first event */
    s.count = o->acc.count;
    s.first = o->first;
    memcpy(s.key_id, o->key->key_id, sizeof s.key_id);
    memcpy(s.origin, l->origin, sizeof s.origin);
    ldg_seal_acc_root(&o->acc, s.root);
    if ((rc = ldg_seal_sign(&s, o->key)) < 0) {
        ldg_seterr(l, "cannot seal with key %s: %s", o->key->key_id,
                   ldg_strerror(rc));
        return rc;
    }
    /* a key with an anchor: its epoch key signs too (epoch_log.c) */
    if ((rc = ldg_epoch_seal(t, o->key, o->seal_seq, &s, ext, sizeof ext)) < 0)
        return rc;
    return seal_store(t, o->seal_seq, &s);
}

/* Gives p (about to be stored as seq) its place in its key's seal of this
 * commit: *slot gets the seal's index in ss. */
static int
seal_place(struct seal_set *ss, struct ldg_txn *t, struct ldg_prep *p,
           uint64_t seq, size_t *slot)
{
    struct open_seal *o = NULL;
    size_t i;
    int rc;

    for (i = 0; i < ss->n; i++)
        if (ss->s[i].key == p->signer) {
            o = &ss->s[i];
            break;
        }
    if (o != NULL && o->acc.count == LDG_SEAL_EVENTS_MAX) {
        /* a seal covers at most LDG_SEAL_EVENTS_MAX: close it here and
         * go on in a new one */
        if ((rc = seal_close_one(t, o)) < 0)
            return rc;
        o->first += o->acc.count;
        o->seal_seq = seq;
        ldg_seal_acc_init(&o->acc);
    }
    if (o == NULL) {
        if (ss->n == ss->cap) {
            size_t cap = ss->cap ? ss->cap * 2 : 4;
            struct open_seal *ns = realloc(ss->s, cap * sizeof *ns);
            if (ns == NULL)
                return LDG_ENOMEM;
            ss->s = ns;
            ss->cap = cap;
        }
        o = &ss->s[ss->n];
        o->key = p->signer;
        o->seal_seq = seq;
        if ((rc = ldg_key_sealed(t, p->signer->key_id, &o->first)) < 0)
            return rc;
        ldg_seal_acc_init(&o->acc);
        i = ss->n++;
    }
    p->seal_seq = o->seal_seq;
    p->seal_leaf = o->acc.count;
    *slot = i;
    return 0;
}

/* Closes key_id's open seal in ss, if any (a client's sealed batch of
 * that key comes next: a key's seals never interleave). */
static int
seal_close_key(struct seal_set *ss, struct ldg_txn *t, const char *key_id)
{
    for (size_t i = 0; i < ss->n; i++)
        if (strcmp(ss->s[i].key->key_id, key_id) == 0) {
            int rc = seal_close_one(t, &ss->s[i]);
            ss->s[i] = ss->s[--ss->n];
            return rc;
        }
    return 0;
}

/* Seals every open seal of the commit. */
static int
seal_set_close(struct seal_set *ss, struct ldg_txn *t)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < ss->n; i++)
        rc = seal_close_one(t, &ss->s[i]);
    ss->n = 0;
    return rc;
}

/* ------------------------------------------------------ intake frames -- */

/* Adds to frame what a commit of k events from seq first stored besides
 * them: the seals that opened in it (keyed by their first event, which
 * is in the commit) and the checkpoint of its new size. */
static int
frame_seals(struct ldg_txn *t, struct ldg_intake_build *frame, uint64_t first,
            uint64_t k)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_cursor *c = NULL;
    struct ldg_val key, v;
    uint8_t kb[8];
    int rc = 0;

    ldg_be64(kb, first);
    if (l->format >= 2) {
        if ((rc = ldg_cursor_open(t, ldg_core(l, LDG_DB_SEALS), &c)) < 0)
            return rc;
        for (rc = ldg_cursor_get(c, LDG_SET_RANGE, kb, 8, &key, &v); rc == 0;
             rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &key, &v)) {
            uint64_t at;
            if (key.len != 8 || (at = ldg_rd_be64(key.data)) >= first + k)
                break;
            if ((rc = ldg_intake_build_seal(frame, at, v.data, v.len)) < 0)
                break;
        }
        ldg_cursor_close(c);
        if (rc < 0 && rc != LDG_ENOTFOUND)
            return rc;
    }
    return 0;
}

static int
frame_close(struct ldg_txn *t, struct ldg_intake_build *frame, uint64_t first,
            uint64_t k)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_val v;
    uint8_t kb[8];
    int rc;

    /* (events filled it up to its limit, at most: the closing records
     * have room past it) */
    if (frame->max <= SIZE_MAX - LDG_INTAKE_CLOSE_ROOM)
        frame->max += LDG_INTAKE_CLOSE_ROOM;
    if ((rc = frame_seals(t, frame, first, k)) < 0)
        return rc;
    ldg_be64(kb, first + k);
    if ((rc = ldg_kv_get(t, ldg_core(l, LDG_DB_CHECKPOINTS), kb, 8, &v)) ==
        LDG_ENOTFOUND)
        return 0; /* (LDG_BENCH_NOTREE: none) */
    if (rc < 0)
        return rc;
    return ldg_intake_build_checkpoint(frame, v.data, v.len);
}

static int
frame_bad(struct ldg_ledger *l, const struct ldg_intake_frame *f,
          const char *what, uint64_t seq)
{
    ldg_seterr(l,
               "storage corrupt: the intake frame of lap %u from event %llu "
               "does not follow the log: %s (event %llu)",
               (unsigned)f->gen, (unsigned long long)f->first_seq, what,
               (unsigned long long)seq);
    return LDG_ECORRUPT;
}

/* One EVENT record of f as event seq. */
static int
apply_event(struct ldg_txn *t, const struct ldg_intake_frame *f,
            const struct ldg_intake_rec *r, uint64_t seq)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_event ev;
    struct ldg_body_rec br;
    json_t *body = NULL;
    uint64_t target = 0;
    uint8_t prev[32];
    int rc, erase = 0;

    if (ldg_event_decode(r->p, r->len, &ev) < 0)
        return frame_bad(l, f, "an entry does not decode", seq);
    if (ev.seq != seq)
        return frame_bad(l, f, "an entry of another seq", seq);
    if (seq > 0) {
        if ((rc = ldg_tree_stored_hash(t, 0, seq - 1, prev)) < 0)
            return rc == LDG_ENOTFOUND
                       ? frame_bad(l, f, "no event before it", seq)
                       : rc;
        if (memcmp(prev, ev.prev, 32) != 0)
            return frame_bad(l, f, "its prev is not the last leaf", seq);
    }
    memset(&br, 0, sizeof br);
    br.rec = (uint8_t *)(uintptr_t)r->b;
    br.rec_len = r->blen;
    memcpy(br.root, ev.body_root, 32);
    if (strcmp(ev.type, LDG_EV_BODY_ERASED) == 0) {
        json_int_t tgt;
        if (ldg_body_decode_json(ldg_txn_dicts(t), r->b, r->blen,
                                 l->opts.body_max_bytes, &body) < 0)
            return frame_bad(l, f, "an erasure's body does not decode", seq);
        tgt = json_integer_value(json_object_get(body, "target_seq"));
        if (tgt < 0 || (uint64_t)tgt >= seq) {
            json_decref(body);
            return frame_bad(l, f, "an erasure of no earlier event", seq);
        }
        target = (uint64_t)tgt;
        erase = 1;
        {
            struct ldg_val v;
            uint8_t k[8];
            ldg_be64(k, target);
            /* erased already (an erasure applied twice): nothing to do */
            if (ldg_kv_get(t, ldg_core(l, ldg_db_bodies(t)), k, 8, &v) != 0)
                erase = 0;
        }
    }
    rc = store_event(t, &ev, &br, body, erase, target);
    json_decref(body);
    return rc;
}

int
ldg_intake_apply_frame(struct ldg_txn *t, const struct ldg_intake_frame *f)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_intake_rec r;
    uint64_t size, seq = f->first_seq;
    size_t off = 0;
    int rc;

    if ((rc = ldg_txn_size(t, &size)) < 0)
        return rc;
    if (size != f->first_seq)
        return frame_bad(l, f, "it does not start where the log ends", size);
    while (ldg_intake_rec_next(f, &off, &r) == 1) {
        uint8_t k[8];
        struct ldg_val v;
        switch (r.kind) {
        case LDG_IREC_DICT: {
            uint8_t id = (uint8_t)r.id;
            if (ldg_kv_get(t, ldg_core(l, LDG_DB_DICTS), &id, 1, &v) == 0)
                break; /* never changed once stored */
            rc = ldg_core_kv_put(t, ldg_core(l, LDG_DB_DICTS), &id, 1, r.p,
                                 r.len);
            break;
        }
        case LDG_IREC_EVENT:
            rc = apply_event(t, f, &r, seq++);
            break;
        case LDG_IREC_SEAL: {
            struct ldg_seal s;
            if (ldg_seal_record_decode(r.p, r.len, &s) < 0 ||
                r.seq < f->first_seq || r.seq >= seq)
                return frame_bad(l, f,
                                 "a seal that does not decode, or of "
                                 "events not in the frame",
                                 r.seq);
            ldg_be64(k, r.seq);
            if (ldg_kv_get(t, ldg_core(l, LDG_DB_SEALS), k, 8, &v) == 0)
                return frame_bad(l, f, "a seal over a stored one", r.seq);
            rc =
                ldg_core_kv_put(t, ldg_core(l, LDG_DB_SEALS), k, 8, r.p, r.len);
            if (rc == 0)
                rc = ldg_keys_sealed_put(t, s.key_id, s.first + s.count);
            if (rc == 0)
                rc = ldg_epoch_seal_stored(t, r.seq, &s, 1);
            break;
        }
        case LDG_IREC_CHECKPOINT: {
            uint64_t at = 0;
            rc = ldg_checkpoint_check(t, (const char *)r.p, r.len, &at);
            if (rc == 0 && at != seq)
                rc = LDG_ETAMPER;
            if (rc == LDG_EBADSIG || rc == LDG_EBADINPUT || rc == LDG_ETAMPER ||
                rc == LDG_ENOTFOUND)
                return frame_bad(l, f,
                                 "its checkpoint is not the log key's "
                                 "for the tree it makes",
                                 seq);
            ldg_be64(k, seq);
            if (rc == 0)
                rc = ldg_core_kv_put(t, ldg_core(l, LDG_DB_CHECKPOINTS), k, 8,
                                     r.p, r.len);
            break;
        }
        }
        if (rc < 0)
            return rc;
    }
    for (size_t i = 0; i < l->nappliers; i++) {
        if (l->appliers[i].at_commit == NULL)
            continue;
        rc = l->appliers[i].at_commit(l->appliers[i].ctx, t, seq);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/*
 * Commits preps[0..n) as one transaction (steps 2-8). Retries after
 * growing the map when it is full. On success the events are durable.
 */
int
ldg_commit_group(struct ldg_ledger *l, struct ldg_prep *preps, size_t n,
                 uint64_t *first_seq)
{
    return ldg_commit_group_n(l, preps, n, first_seq, NULL);
}

int
ldg_commit_group_n(struct ldg_ledger *l, struct ldg_prep *preps, size_t n,
                   uint64_t *first_seq, uint64_t *stored)
{
    struct ldg_prep_span one = {preps, n};
    return ldg_commit_spans(l, &one, 1, first_seq, stored);
}

/* How a commit reaches the store: an LMDB transaction (layouts 1 to 8,
 * or layout 999's groups too big for a frame, the tail applied first), or
 * an intake frame (layout 999). */
enum commit_via { VIA_LMDB, VIA_LMDB_INTAKE, VIA_FRAME };

static int commit_spans_via(struct ldg_ledger *l,
                            const struct ldg_prep_span *spans, size_t nspans,
                            uint64_t *first_seq, uint64_t *stored,
                            enum commit_via via);

/*
 * Layout 999: under the intake's exclusive lock, the group is made in an
 * overlay over the store with the unapplied tail replayed (so its checks
 * see every acknowledged event) and acknowledged by its frame's flush;
 * a group whose frame would pass the frame limit goes to LMDB itself once
 * the tail is applied.
 */
static int
spans_erase(const struct ldg_prep_span *spans, size_t nspans)
{
    for (size_t j = 0; j < nspans; j++)
        for (size_t i = 0; i < spans[j].n; i++)
            if (strcmp(spans[j].p[i].type, LDG_EV_BODY_ERASED) == 0)
                return 1;
    return 0;
}

int
ldg_commit_spans(struct ldg_ledger *l, const struct ldg_prep_span *spans,
                 size_t nspans, uint64_t *first_seq, uint64_t *stored)
{
    int fd, rc;

    if (l->intake == NULL)
        return commit_spans_via(l, spans, nspans, first_seq, stored, VIA_LMDB);
    if ((fd = ldg_intake_lock_ex(l)) < 0)
        return fd;
    if (spans_erase(spans, nspans)) {
        /* an erasure leaves no copy of the body in the intake, and goes to
         * LMDB itself, which deletes the record at once (as at layout 8) */
        rc = ldg_intake_scrub(l, 1);
        if (rc == 0)
            rc = commit_spans_via(l, spans, nspans, first_seq, stored,
                                  VIA_LMDB_INTAKE);
        ldg_intake_unlock_ex(l, fd);
        return rc;
    }
    rc = commit_spans_via(l, spans, nspans, first_seq, stored, VIA_FRAME);
    if (rc == LDG_ETOOBIG && l->errmsg[0] == '\0') /* (the frame's limit) */
        rc = commit_spans_via(l, spans, nspans, first_seq, stored,
                              VIA_LMDB_INTAKE);
    ldg_intake_unlock_ex(l, fd);
    return rc;
}

static int
commit_spans_via(struct ldg_ledger *l, const struct ldg_prep_span *spans,
                 size_t nspans, uint64_t *first_seq, uint64_t *stored,
                 enum commit_via via)
{
    size_t n = 0;
    struct ldg_txn *t = NULL;
    struct tail tl;
    struct seal_set ss = {0};
    struct ldg_intake_ack ia;
    uint8_t prev[32];
    uint64_t k = 0; /* events stored so far in this try */
    int rc, tries = 0;

    memset(&ia, 0, sizeof ia);
    if (stored != NULL)
        *stored = 0;
    for (size_t j = 0; j < nspans; j++)
        n += spans[j].n;
    if (n == 0)
        return 0;
again:
    k = 0;
    ss.n = 0;
    ldg_errbuf(l)[0] = '\0';
    if (via == VIA_FRAME) {
        ldg_intake_ack_release(&ia);
        rc = ldg_intake_ack_begin(l, &ia, &t);
        l->frame = &ia.frame;
    } else {
        rc = ldg_txn_begin(l, LDG_TXN_WRITE, &t);
    }
    if (rc < 0) {
        l->frame = NULL;
        if (ldg_errbuf(l)[0] == '\0')
            ldg_seterr(l, "cannot begin a write transaction: %s",
                       ldg_strerror(rc));
        return rc;
    }
    if ((rc = read_tail(t, &tl)) < 0)
        goto fail;
    memcpy(prev, tl.leaf, 32);
    if (l->frame != NULL) /* (a try again starts it over) */
        ldg_intake_build_reset(l->frame, tl.size);
    for (size_t j = 0; j < nspans; j++) {
        for (size_t i = 0; i < spans[j].n; i++) {
            uint64_t seq = tl.size + k;
            uint64_t min_ts = (seq == 0) ? 0 : tl.ts + 1;
            struct ldg_prep *p = &spans[j].p[i];
            if (p->rc < 0) {
                rc = p->rc;
                goto fail;
            }
            /* its id is in the log (or earlier in this group): not appended
             * again; the caller learns the seq from p */
            if ((rc = find_dup(t, p)) > 0)
                continue;
            if (rc < 0)
                goto fail;
            /* A stamp made ahead of time holds if the log is where we thought
             * and time still moves forward; otherwise stamp and sign again. */
            if (!p->signed_ok || p->seq != seq || p->ts < min_ts) {
                uint64_t now = ldg_clock_now(l);
                rc = ldg_prep_sign(l, p, seq, now > min_ts ? now : min_ts);
                if (rc < 0)
                    goto fail;
            }
            tl.ts = p->ts;
            if (l->format >= 2) {
                size_t slot;
                if ((rc = seal_place(&ss, t, p, seq, &slot)) < 0 ||
                    (rc = store_one(t, p, prev, prev)) < 0)
                    goto fail;
                ldg_seal_acc_add(&ss.s[slot].acc, p->digest);
            } else if ((rc = store_one(t, p, prev, prev)) < 0) {
                goto fail;
            }
            k++;
            /* The leaf pages this group's puts read through the map were
             * copied into dirty pages: drop the mapped ones now and then
             * (they are page cache; LMDB never writes through the map, so
             * a page read again faults back the same bytes), or a group
             * of 8,000 events holds both copies of ~2,600 pages at once
             * in the resident size. */
            if ((k & (TRIM_EVERY - 1)) == 0)
                ldg_store_trim(l->store);
        }
    }
    if (k == 0) { /* every event was already there: nothing to commit */
        if (via == VIA_FRAME)
            ldg_intake_ack_end(l, &ia, t, 1);
        else
            ldg_txn_abort(t);
        seal_set_release(&ss);
        if (via == VIA_FRAME) {
            l->frame = NULL;
            ldg_intake_ack_release(&ia);
        }
        if (first_seq != NULL)
            *first_seq = tl.size;
        return 0;
    }
    if ((rc = seal_set_close(&ss, t)) < 0)
        goto fail;
    if (!(l->opts.flags & LDG_BENCH_NOTREE) &&
        (rc = ldg_checkpoint_put(t, tl.size + k)) < 0)
        goto fail;
    if (l->frame != NULL && (rc = frame_close(t, l->frame, tl.size, k)) < 0)
        goto fail;
    for (size_t i = 0; i < l->nappliers; i++) {
        if (l->appliers[i].at_commit == NULL)
            continue;
        rc = l->appliers[i].at_commit(l->appliers[i].ctx, t, tl.size + k);
        if (rc < 0)
            goto fail;
    }
    if (via == VIA_FRAME) {
        /* the ack: the frame written and flushed; the overlay goes */
        l->frame = NULL;
        rc = ldg_intake_ack_write(l, &ia);
        ldg_intake_ack_end(l, &ia, t, rc == 0);
    } else {
        if (via == VIA_LMDB_INTAKE &&
            (rc = ldg_intake_direct_pos(l, t, tl.size + k)) < 0)
            goto fail;
        rc = ldg_txn_commit(t);
    }
    t = NULL;
    if (rc < 0)
        goto fail;
    seal_set_release(&ss);
    /* (a dictionary is trained from the store's last events: at layout
     * 999, once they are applied) */
    if (via != VIA_FRAME || ia.settled)
        ldg_dict_after_commit(l, tl.size + k);
    ldg_intake_ack_release(&ia);
    if (first_seq != NULL)
        *first_seq = tl.size;
    if (stored != NULL)
        *stored = k;
    return 0;
fail:
    if (via == VIA_FRAME)
        ldg_intake_ack_end(l, &ia, t, 0);
    else
        ldg_txn_abort(t);
    t = NULL;
    if (via == VIA_FRAME) {
        l->frame = NULL;
        if (rc == LDG_ETOOBIG && ia.frame.full) {
            /* too big for a frame: the caller goes to LMDB (errmsg
             * empty says it is this) */
            seal_set_release(&ss);
            ldg_intake_ack_release(&ia);
            l->errmsg[0] = '\0';
            return rc;
        }
    }
    if (rc != LDG_EFULL)
        seal_set_release(&ss);
    if (rc == LDG_EFULL) {
        char why[256];
        why[0] = '\0';
        if (tries++ < GROW_RETRIES &&
            ldg_store_grow(l->store, why, sizeof why) == 0)
            goto again;
        ldg_seterr(l, "%s; nothing of this group of %zu event%s was written",
                   why[0] ? why : "storage full", n, n == 1 ? "" : "s");
    } else if (ldg_errbuf(l)[0] == '\0')
        ldg_seterr(l, "append failed: %s", ldg_strerror(rc));
    seal_set_release(&ss);
    ldg_intake_ack_release(&ia);
    return rc;
}

int
ldg_append(struct ldg_ledger *l, const struct ldg_event_in *ev,
           uint64_t *seq_out)
{
    return ldg_append_ex(l, ev, seq_out, NULL);
}

int
ldg_append_ex(struct ldg_ledger *l, const struct ldg_event_in *ev,
              uint64_t *seq_out, unsigned *differs)
{
    struct ldg_prep p;
    uint64_t first;
    int rc;

    if (differs != NULL)
        *differs = 0;
    if (l == NULL || ev == NULL)
        return LDG_EINVAL;
    if (l->opts.flags & LDG_RDONLY) {
        ldg_seterr(l, "ledger opened read-only");
        return LDG_EINVAL;
    }
    l->errmsg[0] = '\0';
    if ((rc = ldg_log_secret_load(l)) < 0)
        return rc;
    {
        uint64_t hint = 0;
        if (l->has_salt_seed && (rc = ldg_size(l, &hint)) < 0)
            return rc;
        rc = ldg_prep_init(l, &p, ev, hint);
    }
    if (rc == 0)
        rc = ldg_commit_group(l, &p, 1, &first);
    if (rc == 0 && p.dup) {
        first = p.dup_seq;
        dup_message(l, &p);
        if (differs != NULL)
            *differs = p.dup_differs;
        rc = LDG_EDUPLICATE;
    }
    if ((rc == 0 || rc == LDG_EDUPLICATE) && seq_out != NULL)
        *seq_out = first;
    ldg_prep_release(&p);
    return rc;
}

/* -------------------------------------------------- all-or-nothing -- */

/*
 * An all-or-nothing batch: one write transaction holds every accepted
 * event; each is judged by exactly the checks a commit makes (prep_init,
 * then check_in_txn against the log as the transaction has it, so key
 * events, erasures and parents earlier in the batch count). A refused
 * event writes nothing and the batch goes on; a storage failure ends it.
 * Nothing is durable until ldg_batch_commit.
 */
struct ldg_batch {
    struct ldg_ledger *l;
    struct ldg_txn *t;
    struct tail tl;
    uint8_t prev[32];
    uint64_t n;         /* events stored in the transaction */
    int dead;           /* a storage failure: only ldg_batch_free is left */
    int full;           /* that failure was LDG_EFULL */
    struct seal_set ss; /* format 2: the ledger-held keys' open seals */
    int intake_fd;      /* layout 999: the intake's lock, held throughout */
    int via_frame;      /* layout 999: b->t is an overlay, acked by a frame */
    struct ldg_intake_ack ia;
};

/*
 * Layout 999: a batch is made in an overlay over the store with the
 * intake's tail replayed and acknowledged by its frame at commit, as an
 * append is; one that outgrows a frame (or whose transaction a caller
 * asks for, to write more than events) goes on in an LMDB transaction:
 * the tail applied, then what the batch stored so far (its frame so far,
 * and the seals it closed) applied to it.
 */
static int
batch_to_lmdb(struct ldg_batch *b, uint64_t upto, int scrub)
{
    struct ldg_ledger *l = b->l;
    struct ldg_intake_build *fr = &b->ia.frame;
    struct ldg_txn *t = NULL;
    int rc = 0;

    if (!b->via_frame)
        return 0;
    fr->max = SIZE_MAX; /* (room for the seals: the frame is not written) */
    fr->full = 0;
    if (fr->count > 0)
        rc = frame_seals(b->t, fr, fr->first_seq, upto - fr->first_seq);
    l->frame = NULL;
    ldg_intake_ack_end(l, &b->ia, b->t, 0);
    b->t = NULL;
    b->via_frame = 0;
    if (rc == 0)
        rc = scrub ? ldg_intake_scrub(l, 1) : ldg_intake_settle(l);
    if (rc == 0)
        rc = ldg_store_txn_begin(l->store, l, 1, &t);
    if (rc == 0 && fr->count > 0) {
        struct ldg_intake_frame f;
        const uint8_t *p;
        size_t n;
        rc = ldg_intake_build_finish(fr, &p, &n);
        if (rc == 0)
            rc = ldg_intake_frame_parse(p, n, &f, NULL);
        if (rc == 0)
            rc = ldg_intake_apply_frame(t, &f);
    }
    ldg_intake_ack_release(&b->ia);
    if (rc < 0) {
        ldg_txn_abort(t);
        return rc;
    }
    b->t = t;
    return 0;
}

/* store_checked in a batch: one that outgrows its frame goes on in
 * LMDB, and the event is stored there. */
static int
batch_store(struct ldg_batch *b, struct ldg_prep *p, int erase, uint64_t target)
{
    int rc;

    /* an erasure at layout 999: the batch goes on in LMDB, with no copy
     * of the body left in the intake (ldg_commit_spans) */
    if (erase && b->intake_fd >= 0 &&
        (rc = b->via_frame ? batch_to_lmdb(b, p->seq, 1)
                           : ldg_intake_scrub(b->l, 0)) < 0)
        return rc;
    rc = store_checked(b->t, p, b->prev, b->prev, erase, target);
    if (rc == LDG_ETOOBIG && b->via_frame && b->ia.frame.full) {
        if ((rc = batch_to_lmdb(b, p->seq, 0)) < 0)
            return rc;
        rc = store_checked(b->t, p, b->prev, b->prev, erase, target);
    }
    return rc;
}

/* Says which storage limit a batch met (LDG_EFULL or LDG_ETXNFULL): the
 * disk, the map (grown by ldg_batch_free for a retry, as far as the disk
 * and map_max_bytes allow), or one transaction's limit of changes, which
 * no disk space lifts. */
static void
batch_full_msg(struct ldg_ledger *l, int rc)
{
    uint64_t fs_free = 0;

    ldg_store_fs_free(l->store, &fs_free, NULL);
    if (rc == LDG_ETXNFULL)
        ldg_seterr(l,
                   "the batch is too large for one transaction (LMDB's "
                   "limit of changed pages in a commit, MDB_TXN_FULL; "
                   "%llu MiB free on the file system): nothing of the "
                   "batch is written; commit it in smaller parts",
                   (unsigned long long)(fs_free >> 20));
    else if (ldg_store_disk_full(l->store))
        ldg_seterr(l,
                   "no space left on device (%llu MiB free on FS); "
                   "nothing of the batch is written",
                   (unsigned long long)(fs_free >> 20));
    else
        ldg_seterr(l,
                   "storage full: the map of %llu MiB is full (%llu MiB "
                   "free on the file system); nothing of the batch is "
                   "written",
                   (unsigned long long)(ldg_store_map_size(l->store) >> 20),
                   (unsigned long long)(fs_free >> 20));
}

int
ldg_batch_begin(struct ldg_batch **out, struct ldg_ledger *l)
{
    struct ldg_batch *b;
    int rc;

    if (out == NULL || l == NULL)
        return LDG_EINVAL;
    *out = NULL;
    if (l->opts.flags & LDG_RDONLY) {
        ldg_seterr(l, "ledger opened read-only");
        return LDG_EINVAL;
    }
    l->errmsg[0] = '\0';
    if ((rc = ldg_log_secret_load(l)) < 0)
        return rc;
    b = calloc(1, sizeof *b);
    if (b == NULL)
        return LDG_ENOMEM;
    b->l = l;
    b->intake_fd = -1;
    /* layout 999: a batch appends to LMDB itself (it is written once,
     * not in the intake and again), the tail applied first and the
     * intake locked until it ends, so that no frame is written under it */
    if (l->intake != NULL && (b->intake_fd = ldg_intake_lock_ex(l)) < 0) {
        rc = b->intake_fd;
        free(b);
        return rc;
    }
    if (l->intake != NULL) {
        rc = ldg_intake_ack_begin(l, &b->ia, &b->t);
        b->via_frame = rc == 0;
        if (rc == 0)
            l->frame = &b->ia.frame;
    } else {
        rc = ldg_txn_begin(l, LDG_TXN_WRITE, &b->t);
    }
    if (rc < 0) {
        if (ldg_errbuf(l)[0] == '\0')
            ldg_seterr(l, "cannot begin a write transaction: %s",
                       ldg_strerror(rc));
        ldg_intake_unlock_ex(l, b->intake_fd);
        free(b);
        return rc;
    }
    if ((rc = read_tail(b->t, &b->tl)) < 0) {
        if (rc != LDG_EVERSION) /* (an older layout said so, and how) */
            ldg_seterr(l, "cannot read the end of the log: %s",
                       ldg_strerror(rc));
        if (b->via_frame)
            ldg_intake_ack_end(l, &b->ia, b->t, 0);
        else
            ldg_txn_abort(b->t);
        l->frame = NULL;
        ldg_intake_ack_release(&b->ia);
        ldg_intake_unlock_ex(l, b->intake_fd);
        free(b);
        return rc;
    }
    memcpy(b->prev, b->tl.leaf, 32);
    *out = b;
    return 0;
}

int
ldg_batch_add_pruned(struct ldg_batch *b, const struct ldg_event_in *ev,
                     uint64_t *seq)
{
    struct ldg_txn *t;
    int rc;
    if (ev == NULL || ev->type == NULL ||
        strcmp(ev->type, LDG_EV_LEDGER_PRUNED) != 0)
        return LDG_EINVAL;
    if ((rc = ldg_batch_txn(b, &t)) < 0) /* (in LMDB, as the prune is) */
        return rc;
    adding_pruned = 1;
    rc = ldg_batch_add_seq(b, ev, seq, NULL);
    adding_pruned = 0;
    return rc;
}

int
ldg_batch_txn(struct ldg_batch *b, struct ldg_txn **out)
{
    int rc;
    *out = NULL;
    if (b == NULL || b->dead)
        return LDG_EINVAL;
    /* a caller that writes more than events writes to LMDB */
    if (b->via_frame && (rc = batch_to_lmdb(b, b->tl.size + b->n, 0)) < 0) {
        b->dead = 1;
        b->full = rc == LDG_EFULL;
        return rc;
    }
    *out = b->t;
    return 0;
}

int
ldg_batch_add(struct ldg_batch *b, const struct ldg_event_in *ev)
{
    uint64_t seq;
    return ldg_batch_add_seq(b, ev, &seq, NULL);
}

int
ldg_batch_add_seq(struct ldg_batch *b, const struct ldg_event_in *ev,
                  uint64_t *seq_out, unsigned *differs)
{
    struct ldg_ledger *l;
    struct ldg_prep p;
    uint64_t seq, now, min_ts;
    uint64_t target = 0;
    int rc, erase = 0;

    if (b == NULL || ev == NULL)
        return LDG_EINVAL;
    l = b->l;
    if (b->dead) {
        ldg_seterr(l, "the batch failed earlier; nothing of it is written");
        return LDG_EINVAL;
    }
    l->errmsg[0] = '\0';
    if (differs != NULL)
        *differs = 0;
    seq = b->tl.size + b->n;
    rc = prep_init_ex(l, &p, ev, seq, 1, NULL, NULL);
    if (rc == 0) {
        now = ldg_clock_now(l);
        min_ts = seq == 0 ? 0 : b->tl.ts + 1;
        rc = ldg_prep_sign(l, &p, seq, now > min_ts ? now : min_ts);
        if (rc == 0)
            rc = check_in_txn(b->t, &p, seq, &erase, &target);
    }
    if (rc < 0) {
        /* refused: nothing of this event was written */
        if (rc == LDG_EDUPLICATE && seq_out != NULL)
            *seq_out = p.dup_seq;
        if (rc == LDG_EDUPLICATE && differs != NULL)
            *differs = p.dup_differs;
        ldg_prep_release(&p);
        return rc;
    }
    if (l->format >= 2) {
        size_t slot;
        rc = seal_place(&b->ss, b->t, &p, seq, &slot);
        if (rc == 0)
            rc = batch_store(b, &p, erase, target);
        if (rc == 0)
            ldg_seal_acc_add(&b->ss.s[slot].acc, p.digest);
    } else {
        rc = batch_store(b, &p, erase, target);
    }
    if (rc < 0)
        goto dead;
    if (seq_out != NULL)
        *seq_out = seq;
    b->tl.ts = p.ts;
    b->n++;
    ldg_prep_release(&p);
    return 0;
dead:
    ldg_prep_release(&p);
    b->dead = 1;
    b->full = rc == LDG_EFULL;
    if (rc == LDG_EFULL || rc == LDG_ETXNFULL)
        batch_full_msg(l, rc);
    else if (l->errmsg[0] == '\0')
        ldg_seterr(l, "append failed: %s", ldg_strerror(rc));
    /* A storage failure is never one of the codes that refuse one event
     * (LDG_EBADINPUT, LDG_ETOOBIG, LDG_EKEY, LDG_EEXIST). */
    return rc == LDG_EBADINPUT || rc == LDG_ETOOBIG || rc == LDG_EKEY ||
                   rc == LDG_EEXIST || rc == LDG_EDUPLICATE
               ? LDG_EIO
               : rc;
}

/* The intake's lock goes when the batch's transaction has ended, as
 * LMDB's write lock does (ledger.h: "until commit or free"), not at
 * ldg_batch_free, which a caller may call much later. */
static void
batch_unlock(struct ldg_batch *b)
{
    if (b != NULL && b->t == NULL && b->intake_fd >= 0) {
        ldg_intake_unlock_ex(b->l, b->intake_fd);
        b->intake_fd = -1;
    }
}

static int batch_commit(struct ldg_batch *b, uint64_t *first_seq, uint64_t *n);

int
ldg_batch_commit(struct ldg_batch *b, uint64_t *first_seq, uint64_t *n)
{
    int rc = batch_commit(b, first_seq, n);
    batch_unlock(b);
    return rc;
}

static int
batch_commit(struct ldg_batch *b, uint64_t *first_seq, uint64_t *n)
{
    struct ldg_ledger *l;
    uint64_t size;
    int rc = 0;

    if (b == NULL || b->t == NULL)
        return LDG_EINVAL;
    l = b->l;
    if (b->dead) {
        ldg_seterr(l, "the batch failed earlier; nothing of it is written");
        return LDG_EINVAL;
    }
    size = b->tl.size + b->n;
    if (b->n > 0)
        rc = seal_set_close(&b->ss, b->t);
    if (rc == 0 && b->n > 0 && !(l->opts.flags & LDG_BENCH_NOTREE))
        rc = ldg_checkpoint_put(b->t, size);
    for (size_t i = 0; rc == 0 && b->n > 0 && i < l->nappliers; i++)
        if (l->appliers[i].at_commit != NULL)
            rc = l->appliers[i].at_commit(l->appliers[i].ctx, b->t, size);
    if (b->via_frame) {
        /* the ack: the frame written and flushed; the overlay goes */
        if (rc == 0 && b->n > 0)
            rc = frame_close(b->t, &b->ia.frame, b->tl.size, b->n);
        l->frame = NULL;
        if (rc == 0 && b->n > 0)
            rc = ldg_intake_ack_write(l, &b->ia);
        ldg_intake_ack_end(l, &b->ia, b->t, rc == 0);
    } else {
        if (rc == 0 && b->n > 0 && b->intake_fd >= 0)
            rc = ldg_intake_direct_pos(l, b->t, size);
        if (rc == 0)
            rc = b->n > 0 ? ldg_txn_commit(b->t) : (ldg_txn_abort(b->t), 0);
        else
            ldg_txn_abort(b->t);
    }
    b->t = NULL;
    if (rc < 0) {
        b->dead = 1;
        b->full = rc == LDG_EFULL;
        if (rc == LDG_EFULL || rc == LDG_ETXNFULL)
            batch_full_msg(l, rc);
        else if (l->errmsg[0] == '\0')
            ldg_seterr(l, "commit failed: %s", ldg_strerror(rc));
        return rc;
    }
    if (b->n > 0 && (b->intake_fd < 0 || !b->via_frame || b->ia.settled))
        ldg_dict_after_commit(l, size);
    if (first_seq != NULL)
        *first_seq = b->tl.size;
    if (n != NULL)
        *n = b->n;
    return 0;
}

void
ldg_batch_fail(struct ldg_batch *b, int rc)
{
    if (b == NULL || b->dead)
        return;
    b->dead = 1;
    b->full = rc == LDG_EFULL;
    if (rc == LDG_EFULL || rc == LDG_ETXNFULL)
        batch_full_msg(b->l, rc);
}

int
ldg_batch_commit_changes(struct ldg_batch *b)
{
    int rc;

    if (b == NULL || b->t == NULL)
        return LDG_EINVAL;
    if (b->n > 0)
        return ldg_batch_commit(b, NULL, NULL);
    if (b->dead) {
        ldg_seterr(b->l, "the batch failed earlier; nothing of it is written");
        return LDG_EINVAL;
    }
    if (b->via_frame) { /* no event, and nothing else written: nothing */
        ldg_intake_ack_end(b->l, &b->ia, b->t, 1);
        b->t = NULL;
        batch_unlock(b);
        return 0;
    }
    rc = ldg_txn_commit(b->t);
    b->t = NULL;
    batch_unlock(b);
    if (rc < 0) {
        b->dead = 1;
        b->full = rc == LDG_EFULL;
        if (rc == LDG_EFULL || rc == LDG_ETXNFULL)
            batch_full_msg(b->l, rc);
        else if (b->l->errmsg[0] == '\0')
            ldg_seterr(b->l, "commit failed: %s", ldg_strerror(rc));
    }
    return rc;
}

void
ldg_batch_free(struct ldg_batch *b)
{
    if (b == NULL)
        return;
    if (b->via_frame) {
        ldg_intake_ack_end(b->l, &b->ia, b->t, 0);
        b->l->frame = NULL;
    } else {
        ldg_txn_abort(b->t);
    }
    ldg_intake_ack_release(&b->ia);
    ldg_intake_unlock_ex(b->l, b->intake_fd);
    /* The map was too small for the batch: make room for a retry (as
     * far as the file system has room; a full disk does not grow it). */
    if (b->full) {
        char why[256];
        ldg_store_grow(b->l->store, why, sizeof why);
    }
    seal_set_release(&b->ss);
    free(b);
}

/* -------------------------------------------------- sealed batches -- */

static int
cmp_idp(const void *a, const void *b)
{
    const struct ldg_prep *const *x = a, *const *y = b;
    return strcmp((*x)->id, (*y)->id);
}

/* Refuses the sealed batch (nothing of it written, the batch goes on). */
static int sealed_refuse(struct ldg_ledger *l, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
sealed_refuse(struct ldg_ledger *l, int rc, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ldg_seterr(l, "sealed batch refused (nothing of it written): %s", msg);
    return rc;
}

size_t
ldg_batch_sealed_cost(const struct ldg_sealed_batch *sb)
{
    /* the preps and their index, and per event the entry's and the body
     * record's buffers (measured: 1.5 KiB a small event beside its prep) */
    if (sb == NULL)
        return 0;
    return sb->n * (sizeof(struct ldg_prep) + sizeof(struct ldg_prep *) + 1536);
}

int
ldg_batch_add_sealed(struct ldg_batch *b, const struct ldg_sealed_batch *sb,
                     uint64_t *first_seq)
{
    struct ldg_ledger *l;
    struct ldg_key_state ks;
    struct ldg_key *pk = NULL;
    struct ldg_prep *preps = NULL, **byid = NULL;
    struct ldg_seal_acc acc;
    struct ldg_seal seal;
    uint64_t seq0, have = 0, ndup = 0, dup_first = 0, ts = 0;
    size_t n, nid = 0, i;
    int rc, retry;

    if (b == NULL || sb == NULL || sb->n == 0 || sb->n != sb->count)
        return LDG_EINVAL;
    l = b->l;
    if (b->dead) {
        ldg_seterr(l, "the batch failed earlier; nothing of it is written");
        return LDG_EINVAL;
    }
    l->errmsg[0] = '\0';
    if (l->format < 2)
        return sealed_refuse(l, LDG_EBADINPUT,
                             "this ledger is format 1, whose events are "
                             "signed one by one; sealed batches need format "
                             "2");
    n = sb->n;
    seq0 = b->tl.size + b->n;
    rc = ldg_keys_lookup(b->t, sb->key_id, &ks);
    if (rc == LDG_ENOTFOUND)
        return sealed_refuse(l, LDG_EKEY,
                             "key %s is not enrolled in this "
                             "ledger (" LDG_CMD_KEYS_ADD ")",
                             sb->key_id);
    if (rc < 0)
        return rc;
    if (ks.revoked_seq != UINT64_MAX)
        return sealed_refuse(l, LDG_EKEY,
                             "key '%s' (%s) was revoked at "
                             "event %llu",
                             ks.name, ks.key_id,
                             (unsigned long long)ks.revoked_seq);
    /* a retried batch: all its events already there (by id) */
    for (i = 0; i < n; i++) {
        const char *id = sb->ev[i].in.id;
        uint64_t at;
        if (id == NULL)
            continue;
        rc = ldg_index_id_lookup(b->t, id, strlen(id), &at);
        if (rc == LDG_ENOTFOUND)
            continue;
        if (rc < 0)
            return rc;
        if (ndup++ == 0)
            dup_first = at;
        if (ndup != i + 1)
            break;
    }
    /* A retry (every id already there) is answered as duplicates only
     * once it proves to be the batch recorded: its seal verifies and is
     * the stored one (below). */
    retry = ndup == n;
    if (ndup > 0 && !retry)
        return sealed_refuse(l, LDG_EBADINPUT,
                             "some of its events' ids are already in the log "
                             "and some are not (a sealed batch is appended "
                             "whole)");
    if (!retry) {
        /* this key's ledger-held seal in the batch so far is complete
         * now: a key's seals never interleave */
        if ((rc = seal_close_key(&b->ss, b->t, ks.key_id)) < 0)
            goto dead;
        if ((rc = ldg_key_sealed(b->t, ks.key_id, &have)) < 0)
            return rc;
        if (sb->first != have)
            return sealed_refuse(
                l, LDG_EBADINPUT,
                "sealed.first is %llu but key '%s' (%s) has %llu "
                "events sealed: a stale or replayed batch "
                "(" LDG_CMD_KEYS_LIST_JSON " shows \"sealed\")",
                (unsigned long long)sb->first, ks.name, ks.key_id,
                (unsigned long long)have);
    }
    if ((rc = ldg_key_from_public(&pk, ks.name, ks.pub)) < 0)
        return rc;
    preps = calloc(n, sizeof *preps);
    byid = calloc(n, sizeof *byid);
    if (preps == NULL || byid == NULL) {
        rc = LDG_ENOMEM;
        goto out;
    }
    ldg_seal_acc_init(&acc);
    for (i = 0; i < n; i++) {
        struct ldg_event_in in = sb->ev[i].in;
        struct ldg_prep *p = &preps[i];
        in.actor = NULL;
        rc = prep_init_ex(l, p, &in, seq0 + i, 1, pk, sb->ev[i].salts);
        if (rc == 0 && (strncmp(p->type, "key.", 4) == 0 ||
                        strcmp(p->type, LDG_EV_BODY_ERASED) == 0)) {
            ldg_seterr(l, "%s is the log key's and never arrives sealed",
                       p->type);
            rc = LDG_EKEY;
        }
        if (rc == 0)
            rc = roles_refuse(l, &ks, p->type);
        if (rc == 0 && p->has_parent && p->parent >= seq0 + i) {
            ldg_seterr(l, "parent %llu is not an earlier event than %llu",
                       (unsigned long long)p->parent,
                       (unsigned long long)(seq0 + i));
            rc = LDG_EBADINPUT;
        }
        if (rc == 0)
            rc = ldg_prep_sign(l, p, seq0 + i, 0);
        if (rc < 0) {
            char why[1024];
            snprintf(why, sizeof why, "%s", ldg_errmsg(l));
            if (rc == LDG_EBADINPUT || rc == LDG_ETOOBIG || rc == LDG_EKEY)
                rc = sealed_refuse(l, rc, "sealed.events[%zu]: %s", i,
                                   why[0] ? why : ldg_strerror(rc));
            goto out;
        }
        if (p->id[0] != '\0')
            byid[nid++] = p;
        ldg_seal_acc_add(&acc, p->digest);
    }
    /* ids must differ from each other too */
    qsort(byid, nid, sizeof *byid, cmp_idp);
    for (i = 1; i < nid; i++)
        if (strcmp(byid[i - 1]->id, byid[i]->id) == 0) {
            rc = sealed_refuse(l, LDG_EBADINPUT,
                               "sealed.events[%zu] and [%zu] carry the same "
                               "id '%s'",
                               (size_t)(byid[i - 1] - preps),
                               (size_t)(byid[i] - preps), byid[i]->id);
            goto out;
        }
    memset(&seal, 0, sizeof seal);
    LDG_ASSERT(acc.count == n); /* the client's seal spans its batch */
    seal.count = n;
    seal.first = sb->first;
    memcpy(seal.key_id, ks.key_id, sizeof seal.key_id);
    memcpy(seal.origin, l->origin, sizeof seal.origin);
    ldg_seal_acc_root(&acc, seal.root);
    memcpy(seal.sig, sb->sig, 64);
    if (ldg_seal_verify(&seal, ks.pub) != 0) {
        rc = sealed_refuse(l, LDG_EBADSIG,
                           "the seal does not verify with key '%s' (%s): "
                           "these %zu events, first %llu or origin '%s' are "
                           "not what it signed",
                           ks.name, ks.key_id, n, (unsigned long long)sb->first,
                           l->origin);
        goto out;
    }
    if (retry) {
        struct ldg_seal stored;
        rc = ldg_seal_get(b->t, dup_first, &stored);
        if (rc < 0 && rc != LDG_ENOTFOUND)
            goto out;
        if (rc == LDG_ENOTFOUND || stored.count != n ||
            stored.first != sb->first ||
            strcmp(stored.key_id, ks.key_id) != 0 ||
            memcmp(stored.root, seal.root, sizeof seal.root) != 0) {
            rc = sealed_refuse(l, LDG_EBADINPUT,
                               "every event's id is already in the log (from "
                               "event %llu), but not from this batch: its "
                               "seal is not the one stored there (changed "
                               "events re-sent under recorded ids)",
                               (unsigned long long)dup_first);
            goto out;
        }
        if (first_seq != NULL)
            *first_seq = dup_first;
        ldg_seterr(l,
                   "sealed batch of %zu events: every event's id is already "
                   "in the log (from event %llu): not appended again",
                   n, (unsigned long long)dup_first);
        rc = LDG_EDUPLICATE;
        goto out;
    }
    /* everything is checked: store the events contiguously, then the
     * seal as given; a failure from here on is the storage's */
    ts = b->tl.ts;
    for (i = 0; i < n; i++) {
        struct ldg_prep *p = &preps[i];
        uint64_t now = ldg_clock_now(l), min_ts = seq0 + i == 0 ? 0 : ts + 1;
        p->seq = seq0 + i;
        p->ts = now > min_ts ? now : min_ts;
        ts = p->ts;
        p->seal_seq = seq0;
        p->seal_leaf = i;
        if ((rc = batch_store(b, p, 0, 0)) < 0)
            goto dead;
    }
    if ((rc = seal_store(b->t, seq0, &seal)) < 0)
        goto dead;
    b->n += n;
    b->tl.ts = ts;
    if (first_seq != NULL)
        *first_seq = seq0;
    rc = 0;
    goto out;
dead:
    b->dead = 1;
    b->full = rc == LDG_EFULL;
    if (rc == LDG_EFULL || rc == LDG_ETXNFULL)
        batch_full_msg(l, rc);
    else if (l->errmsg[0] == '\0')
        ldg_seterr(l, "append failed: %s", ldg_strerror(rc));
    if (rc == LDG_EBADINPUT || rc == LDG_ETOOBIG || rc == LDG_EKEY ||
        rc == LDG_EEXIST || rc == LDG_EDUPLICATE || rc == LDG_EBADSIG)
        rc = LDG_EIO;
out:
    for (i = 0; preps != NULL && i < n; i++)
        ldg_prep_release(&preps[i]);
    free(preps);
    free(byid);
    ldg_key_free(pk);
    return rc;
}
