/*
 * write.c — `ledger export`: selected events, their proofs against one
 * checkpoint, the keys that sign them, into one signed bundle.
 *
 * The whole export reads one snapshot (one read transaction):
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

#include "export/export_int.h"
#include "projections/projections.h"
#include "query/query.h"

#define ROLE_SELECTED 1u
#define ROLE_SUPPORT 2u
#define MAX_EVENTS_DEFAULT 200000
#define PROGRESS_EVERY 256

struct sel {
    uint64_t seq;
    unsigned role;
    uint64_t erased_by; /* UINT64_MAX if none */
};

struct keyent {
    char id[LDG_KEYID_LEN + 1];
    struct ldg_keyinfo ki;
};

/*
 * Members go through a queue to a writer thread, which hashes them, adds
 * them to the archive (whose zstd stream has worker threads of its own)
 * and records the digests; the calling thread keeps reading the ledger and
 * formatting. Only the writer touches the archive and the digest list
 * until it is joined.
 */
#define QCAP 1024
#define WBATCH 256 /* members the writer takes at once */
struct qitem {
    char name[48];
    const void *data;
    size_t len;
    void *owned; /* freed after writing */
};
struct mqueue {
    pthread_mutex_t mu;
    pthread_cond_t nonempty, nonfull;
    struct qitem items[QCAP];
    size_t head, count;
    int closed, started, inited, err;
    pthread_t th;
    char errmsg[320];
};

struct ex {
    struct ldg_ledger *l;
    const struct ldg_export_opts *o;
    struct ldg_txn *t;
    char vkey[512];
    char origin[LDG_ORIGIN_MAX + 1];
    char *ck;
    char *cosigned_proof; /* cosigned/consistency, or NULL: none carried */
    uint64_t cksize;
    uint8_t root[32];
    uint64_t max_events;
    struct sel *ev;
    size_t nev, capev;
    struct keyent *keys;
    size_t nkeys, capkeys;
    struct bwriter *w;
    /* The manifest's two long lists, as JSON text: "files" (written by
     * the writer thread only) and "events". */
    struct ldg_buf mfiles, msizes, mevents;
    struct ldg_buf jsonl;
    uint64_t tar_bytes; /* uncompressed archive size so far */
    struct ldg_export_report rep;
    struct mqueue q;
    struct ldg_proof_batch *proofs; /* every proof against cksize */
    json_t *state;                  /* projected state at cksize, or NULL */
    char *state_note;               /* its signed projection note, or NULL */
    json_t *timeline;               /* timeline.json, or NULL */
    char top[B_TOP_MAX + 1];        /* the archive's one directory */
    char file[300];                 /* the bundle's file name, for README */
    uint64_t now_ns;
    struct ldg_query_models *models; /* "model_at" (none when redacting) */
    /* format 2: the seal of the event being written, with its events'
     * claim digests (the seal of consecutive sealed events is read once) */
    int has_seal;
    uint64_t seal_seq;
    struct ldg_seal seal;
    uint8_t (*seal_dig)[32];
};

/* ------------------------------------------------------------ helpers -- */

static int
push_sel(struct ex *x, uint64_t seq, unsigned role)
{
    if (x->nev == x->capev) {
        size_t cap = x->capev ? x->capev * 2 : 256;
        struct sel *n = realloc(x->ev, cap * sizeof *n);
        if (n == NULL)
            return LDG_ENOMEM;
        x->ev = n;
        x->capev = cap;
    }
    x->ev[x->nev].seq = seq;
    x->ev[x->nev].role = role;
    x->ev[x->nev].erased_by = UINT64_MAX;
    x->nev++;
    return 0;
}

static int
cmp_sel(const void *a, const void *b)
{
    const struct sel *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sorts the list and merges duplicates (their roles OR together). */
static void
sort_sel(struct ex *x)
{
    size_t j = 0;
    qsort(x->ev, x->nev, sizeof *x->ev, cmp_sel);
    for (size_t i = 0; i < x->nev; i++) {
        if (j > 0 && x->ev[j - 1].seq == x->ev[i].seq) {
            x->ev[j - 1].role |= x->ev[i].role;
            if (x->ev[i].erased_by != UINT64_MAX)
                x->ev[j - 1].erased_by = x->ev[i].erased_by;
        } else {
            x->ev[j++] = x->ev[i];
        }
    }
    x->nev = j;
}

/* Index of the first key whose id is >= id (keys are kept sorted). */
static size_t
key_pos(const struct ex *x, const char *id)
{
    size_t lo = 0, hi = x->nkeys;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(x->keys[mid].id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static struct keyent *
find_key(struct ex *x, const char *id)
{
    size_t i = key_pos(x, id);
    return i < x->nkeys && strcmp(x->keys[i].id, id) == 0 ? &x->keys[i] : NULL;
}

/* Remembers an actor key id; looks it up in the log once. */
static int
add_key(struct ex *x, const char *id)
{
    struct keyent k;
    size_t i = key_pos(x, id);
    int rc;

    if (i < x->nkeys && strcmp(x->keys[i].id, id) == 0)
        return 0;
    memset(&k, 0, sizeof k);
    snprintf(k.id, sizeof k.id, "%s", id);
    rc = ldg_key_info(x->t, id, &k.ki);
    if (rc < 0) {
        ldg_set_errmsg(x->l,
                       "key %s signs selected events but the log does "
                       "not know it: %s",
                       id, ldg_strerror(rc));
        return rc == LDG_ENOTFOUND ? LDG_ECORRUPT : rc;
    }
    if (x->nkeys == x->capkeys) {
        size_t cap = x->capkeys ? x->capkeys * 2 : 8;
        struct keyent *n = realloc(x->keys, cap * sizeof *n);
        if (n == NULL)
            return LDG_ENOMEM;
        x->keys = n;
        x->capkeys = cap;
    }
    memmove(&x->keys[i + 1], &x->keys[i], (x->nkeys - i) * sizeof k);
    x->keys[i] = k;
    x->nkeys++;
    return 0;
}

/* Writes one member and records its digest (writer side). */
static int
write_member(struct ex *x, const struct qitem *it)
{
    uint8_t d[32];
    int rc = bwriter_add(x->w, it->name, it->data, it->len);
    if (rc < 0) {
        snprintf(x->q.errmsg, sizeof x->q.errmsg,
                 "writing bundle member %s: %s", it->name,
                 bwriter_errmsg(x->w));
        return rc;
    }
    ldg_sha256(d, it->data, it->len);
    ldg_buf_puts(&x->mfiles, x->mfiles.len ? ",\n  " : "\n  ");
    gb_jstr(&x->mfiles, it->name);
    ldg_buf_puts(&x->mfiles, ": ");
    gb_hex(&x->mfiles, d, 32);
    ldg_buf_puts(&x->msizes, x->msizes.len ? ",\n  " : "\n  ");
    gb_jstr(&x->msizes, it->name);
    ldg_buf_puts(&x->msizes, ": ");
    gb_u64(&x->msizes, it->len);
    if (x->mfiles.err || x->msizes.err) {
        snprintf(x->q.errmsg, sizeof x->q.errmsg, "out of memory");
        return x->mfiles.err ? x->mfiles.err : x->msizes.err;
    }
    return 0;
}

/* Takes everything queued at once (one lock and at most one wake-up per
 * batch rather than per member: there are three members per event). */
static void *
writer_main(void *arg)
{
    struct ex *x = arg;
    struct mqueue *q = &x->q;
    struct qitem batch[WBATCH];
    for (;;) {
        size_t n = 0;
        int rc = 0, was_full;
        pthread_mutex_lock(&q->mu);
        while (q->count == 0 && !q->closed)
            pthread_cond_wait(&q->nonempty, &q->mu);
        if (q->count == 0) {
            pthread_mutex_unlock(&q->mu);
            return NULL;
        }
        was_full = q->count == QCAP;
        do {
            batch[n++] = q->items[q->head];
            q->head = (q->head + 1) % QCAP;
            q->count--;
        } while (q->count > 0 && n < WBATCH);
        if (was_full)
            pthread_cond_signal(&q->nonfull);
        pthread_mutex_unlock(&q->mu);
        for (size_t i = 0; i < n; i++) {
            if (q->err == 0 && rc == 0) /* written only here */
                rc = write_member(x, &batch[i]);
            free(batch[i].owned);
        }
        if (rc < 0) {
            pthread_mutex_lock(&q->mu);
            q->err = rc;
            pthread_cond_broadcast(&q->nonfull);
            pthread_mutex_unlock(&q->mu);
        }
    }
}

static int
queue_start(struct ex *x)
{
    struct mqueue *q = &x->q;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->nonempty, NULL);
    pthread_cond_init(&q->nonfull, NULL);
    q->inited = 1;
    /* without a thread, members are written inline */
    q->started = pthread_create(&q->th, NULL, writer_main, x) == 0;
    return 0;
}

/* Waits for every queued member to be written. */
static int
queue_finish(struct ex *x)
{
    struct mqueue *q = &x->q;
    if (q->started) {
        pthread_mutex_lock(&q->mu);
        q->closed = 1;
        pthread_cond_broadcast(&q->nonempty);
        pthread_mutex_unlock(&q->mu);
        pthread_join(q->th, NULL);
        q->started = 0;
    }
    if (q->err)
        ldg_set_errmsg(x->l, "%s", q->errmsg);
    return q->err;
}

/* Queues one member (taking owned, which holds data, if not NULL). */
static int
member_put(struct ex *x, const char *name, const void *data, size_t len,
           void *owned)
{
    struct mqueue *q = &x->q;
    struct qitem it;
    int rc = 0;

    x->tar_bytes += 512 + ((len + 511) / 512) * 512;
    if (x->tar_bytes > LDG_BUNDLE_TOTAL_DEFAULT) {
        ldg_set_errmsg(x->l,
                       "the bundle would exceed %llu bytes "
                       "uncompressed, more than verify-bundle reads "
                       "by default: select fewer events",
                       (unsigned long long)LDG_BUNDLE_TOTAL_DEFAULT);
        free(owned);
        return LDG_ETOOBIG;
    }
    snprintf(it.name, sizeof it.name, "%s", name);
    it.data = data;
    it.len = len;
    it.owned = owned;
    x->rep.files++;
    if (!q->started) {
        if (q->err == 0)
            q->err = write_member(x, &it);
        free(owned);
        return q->err;
    }
    pthread_mutex_lock(&q->mu);
    while (q->count == QCAP && q->err == 0)
        pthread_cond_wait(&q->nonfull, &q->mu);
    if (q->err == 0) {
        q->items[(q->head + q->count) % QCAP] = it;
        if (q->count++ == 0) /* the writer waits only on an empty queue */
            pthread_cond_signal(&q->nonempty);
        owned = NULL;
    }
    rc = q->err;
    pthread_mutex_unlock(&q->mu);
    free(owned);
    return rc;
}

/* Queues a copy of data as member name. */
static int
member(struct ex *x, const char *name, const void *data, size_t len)
{
    void *copy = malloc(len ? len : 1);
    if (copy == NULL)
        return LDG_ENOMEM;
    memcpy(copy, data, len);
    return member_put(x, name, copy, len, copy);
}

static int
member_json(struct ex *x, const char *name, json_t *v, size_t flags)
{
    char *s;
    int rc;

    if (v == NULL)
        return LDG_ENOMEM;
    s = json_dumps(v, flags | JSON_PRESERVE_ORDER);
    json_decref(v);
    if (s == NULL)
        return LDG_ENOMEM;
    rc = member_put(x, name, s, strlen(s), s);
    return rc;
}

static int
in_list(const char *s, char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return 1;
    return 0;
}

/* Events verification needs whole: never redacted. */
static int
protected_type(const char *type)
{
    return strcmp(type, "ledger.genesis") == 0 ||
           strcmp(type, "key.added") == 0 || strcmp(type, "key.revoked") == 0 ||
           strcmp(type, "body.erased") == 0;
}

/* ---------------------------------------------------------- selection -- */

static int
select_events(struct ex *x, const struct ldg_query *q)
{
    struct ldg_query_iter *it = NULL;
    struct ldg_event ev;
    int rc;

    if ((rc = ldg_query_iter_new(&it, q, x->t, 0)) < 0) {
        ldg_set_errmsg(x->l, "selection: %s", ldg_strerror(rc));
        return rc;
    }
    while ((rc = ldg_query_iter_next(it, &ev)) == 0) {
        if (ev.seq >= x->cksize)
            continue; /* after the checkpoint: cannot be proven */
        if (x->rep.selected >= x->max_events) {
            ldg_set_errmsg(x->l,
                           "the selection has more than %llu events; "
                           "narrow it or raise the limit",
                           (unsigned long long)x->max_events);
            rc = LDG_ETOOBIG;
            break;
        }
        if ((rc = push_sel(x, ev.seq, ROLE_SELECTED)) < 0 ||
            (rc = add_key(x, ev.actor)) < 0)
            break;
        x->rep.selected++;
    }
    if (rc == LDG_ENOTFOUND)
        rc = 0;
    else if (rc < 0 && rc != LDG_ETOOBIG)
        ldg_set_errmsg(x->l, "selection: %s", ldg_strerror(rc));
    ldg_query_iter_free(it);
    return rc;
}

/* For every selected event whose body was erased, the body.erased event
 * that did it. Uses the query module's type index. */
static int
select_erasures(struct ex *x)
{
    static char term[] = "type=body.erased";
    char *terms[1] = {term};
    struct ldg_query *q = NULL;
    struct ldg_query_iter *it = NULL;
    struct ldg_event ev;
    char err[256];
    size_t nsel = x->nev;
    int rc;

    rc = ldg_query_compile(&q, 1, terms, NULL, NULL, err, sizeof err);
    if (rc == 0)
        rc = ldg_query_iter_new(&it, q, x->t, 0);
    while (rc == 0 && (rc = ldg_query_iter_next(it, &ev)) == 0) {
        json_t *body = NULL;
        json_int_t tgt;
        struct sel *s;
        if (ev.seq >= x->cksize)
            break;
        if ((rc = ldg_body_get(x->t, ev.seq, &body)) < 0)
            break;
        tgt = json_integer_value(json_object_get(body, "target_seq"));
        json_decref(body);
        /* x->ev[0..nsel) is sorted: only selected events so far */
        {
            struct sel key = {(uint64_t)tgt, 0, 0};
            s = tgt < 0 || nsel == 0
                    ? NULL
                    : bsearch(&key, x->ev, nsel, sizeof *x->ev, cmp_sel);
        }
        if (s == NULL)
            continue;
        s->erased_by = ev.seq;
        if ((rc = push_sel(x, ev.seq, ROLE_SUPPORT)) < 0)
            break;
        if ((rc = add_key(x, ev.actor)) < 0)
            break;
    }
    if (rc == LDG_ENOTFOUND)
        rc = 0;
    if (rc < 0 && ldg_errmsg(x->l)[0] == '\0')
        ldg_set_errmsg(x->l, "looking for body.erased events: %s",
                       ldg_strerror(rc));
    ldg_query_iter_free(it);
    ldg_query_free(q);
    return rc;
}

/* What the log knew of the weights of the model a selected event names,
 * within the checkpoint's size: 1 with *m filled, 0 for an event about
 * no model (or when the bundle redacts: a model's name could be what was
 * withheld, so no "model_at" and no model support events then). */
static int
model_at(struct ex *x, const struct ldg_event *ev, const json_t *body,
         struct ldg_model_at *m, const char **model)
{
    int rc;

    if (x->models == NULL || body == NULL ||
        (*model = ldg_query_model_of(ev->type, body)) == NULL)
        return 0;
    if ((rc = ldg_query_models_at(x->models, *model, ev->seq, m)) < 0)
        return rc;
    if (m->ever_verified && m->verified_seq >= x->cksize)
        m->ever_verified = 0; /* after the bundle's checkpoint */
    return 1;
}

/* Event seq as support, with its signer's key events. */
static int
push_support(struct ex *x, uint64_t seq)
{
    struct ldg_event ev;
    int rc;

    if ((rc = ldg_event_get(x->t, seq, &ev)) < 0 ||
        (rc = push_sel(x, seq, ROLE_SUPPORT)) < 0)
        return rc;
    return add_key(x, ev.actor);
}

/* The model.registered (and model.verified) events that back the
 * "model_at" of the selected route decisions, evals and promotions. */
static int
select_model_support(struct ex *x)
{
    size_t nsel = x->nev;
    int rc;

    if (x->o->nredact_fields > 0 || x->o->nredact_types > 0)
        return 0;
    if ((rc = ldg_query_models_new(&x->models, x->t)) < 0)
        return rc;
    for (size_t i = 0; i < nsel; i++) {
        struct ldg_event ev;
        struct ldg_model_at m;
        const char *model;
        json_t *body = NULL;
        if (!(x->ev[i].role & ROLE_SELECTED))
            continue;
        if ((rc = ldg_event_get(x->t, x->ev[i].seq, &ev)) < 0)
            return rc;
        if (strncmp(ev.type, "route.", 6) != 0 &&
            strncmp(ev.type, "eval.", 5) != 0 &&
            strncmp(ev.type, "promotion.", 10) != 0)
            continue;
        rc = ldg_body_get(x->t, ev.seq, &body);
        if (rc == LDG_EERASED)
            continue;
        if (rc < 0)
            return rc;
        rc = model_at(x, &ev, body, &m, &model);
        json_decref(body);
        if (rc > 0 && m.known)
            rc = push_support(x, m.registered_seq);
        if (rc >= 0 && m.known && m.ever_verified)
            rc = push_support(x, m.verified_seq);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int
select_support(struct ex *x)
{
    const char *logid = ldg_log_key(x->l)->key_id;
    int rc;

    if (x->nev > 0)
        qsort(x->ev, x->nev, sizeof *x->ev, cmp_sel);
    if ((rc = select_erasures(x)) < 0)
        return rc;
    if ((rc = select_model_support(x)) < 0)
        return rc;
    if ((rc = add_key(x, logid)) < 0)
        return rc;
    if ((rc = push_sel(x, 0, ROLE_SUPPORT)) < 0) /* genesis */
        return rc;
    for (size_t i = 0; i < x->nkeys; i++) {
        const struct ldg_keyinfo *ki = &x->keys[i].ki;
        if (strcmp(x->keys[i].id, logid) == 0)
            continue;
        if (ki->added_seq < x->cksize &&
            (rc = push_sel(x, ki->added_seq, ROLE_SUPPORT)) < 0)
            return rc;
        if (ki->revoked_seq < x->cksize &&
            (rc = push_sel(x, ki->revoked_seq, ROLE_SUPPORT)) < 0)
            return rc;
    }
    sort_sel(x);
    for (size_t i = 0; i < x->nev; i++)
        if (!(x->ev[i].role & ROLE_SELECTED))
            x->rep.support++;
    return 0;
}

/* ------------------------------------------------------------ members -- */

static int
write_keys(struct ex *x)
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
        json_object_set_new(o, "public_key", json_hex(ki->pub, 32));
        json_object_set_new(o, "actor", json_string(ki->name));
        json_object_set_new(o, "added_seq", json_u64(ki->added_seq));
        if (ki->revoked_seq < x->cksize)
            json_object_set_new(o, "revoked_seq", json_u64(ki->revoked_seq));
        int rc = member_json(x, name, o, JSON_INDENT(2));
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
 * once: lb gets the disclosed body {name:v,...} for events.jsonl, names
 * the withheld names for the manifest.
 */
static int
body_member(struct ex *x, const struct ldg_event *ev, enum bmode *mode,
            struct ldg_buf *lb, json_t *names)
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
    rc = ldg_body_fields(x->t, ev->seq, &f, &n);
    if (rc == LDG_EERASED) {
        *mode = BM_ERASED;
        x->rep.bodies_erased++;
        return member(x, name, "{\"erased\":true}", 15);
    }
    if (rc < 0) {
        ldg_set_errmsg(x->l, "event %llu: body: %s",
                       (unsigned long long)ev->seq, ldg_strerror(rc));
        return rc;
    }
    whole = !protected_type(ev->type) &&
            in_list(ev->type, o->redact_types, o->nredact_types);
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
            (!protected_type(ev->type) &&
             in_list(f[i].name, o->redact_fields, o->nredact_fields))) {
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
    if (whole) {
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
    rc = member_put(x, name, d.p, d.len, d.p);
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
           const struct ldg_buf *lb, const json_t *names)
{
    struct ldg_buf *b = &x->jsonl;
    struct keyent *k = find_key(x, ev->actor);

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
        json_t *body = json_loadb(lb->s, lb->len, 0, NULL);
        struct ldg_model_at m;
        const char *model = NULL;
        int rc = model_at(x, ev, body, &m, &model);
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
        json_decref(body);
        if (rc < 0) {
            ldg_buf_puts(b, "}\n");
            return rc;
        }
    }
    ldg_buf_puts(b, "}\n");
    return b->err;
}

/* Format 2: seals/<seal>.seal (once per seal, as stored) and
 * sealproofs/<seq>.proof: the RFC 6962 path from the event's claim digest
 * to its seal's root, one base64 hash a line, bottom-up (docs/
 * format-bundle.md section 12). */
static int
write_seal(struct ex *x, const struct ldg_event *ev)
{
    uint8_t path[LDG_PROOF_MAX][32], rec[LDG_SEAL_REC_MAX];
    char name[64], *text;
    size_t np = 0, len;
    int rc;

    if (!x->has_seal || x->seal_seq != ev->seal_seq) {
        struct ldg_event se;
        x->has_seal = 0;
        if ((rc = ldg_seal_get(x->t, ev->seal_seq, &x->seal)) < 0) {
            ldg_set_errmsg(x->l, "event %llu: its seal at %llu: %s",
                           (unsigned long long)ev->seq,
                           (unsigned long long)ev->seal_seq,
                           ldg_strerror(rc));
            return rc == LDG_ENOTFOUND ? LDG_ECORRUPT : rc;
        }
        free(x->seal_dig);
        x->seal_dig = malloc((size_t)x->seal.count * 32);
        if (x->seal_dig == NULL)
            return LDG_ENOMEM;
        for (uint64_t i = 0; i < x->seal.count; i++) {
            rc = ldg_event_get_ex(x->t, ev->seal_seq + i, &se,
                                  LDG_DECODE_TRUSTED);
            if (rc == 0 && (!se.sealed || se.seal_seq != ev->seal_seq ||
                            se.seal_leaf != i))
                rc = LDG_ECORRUPT;
            if (rc < 0) {
                ldg_set_errmsg(x->l,
                               "event %llu: seal %llu's event %llu is not "
                               "as stored (%s): run ledger verify",
                               (unsigned long long)ev->seq,
                               (unsigned long long)ev->seal_seq,
                               (unsigned long long)(ev->seal_seq + i),
                               ldg_strerror(rc));
                return LDG_ECORRUPT;
            }
            memcpy(x->seal_dig[i], se.digest, 32);
        }
        x->seal_seq = ev->seal_seq;
        x->has_seal = 1;
        if ((rc = ldg_seal_record_encode(&x->seal, rec, sizeof rec, &len)) <
            0)
            return rc;
        snprintf(name, sizeof name, "seals/%llu.seal",
                 (unsigned long long)ev->seal_seq);
        if ((rc = member(x, name, rec, len)) < 0)
            return rc;
    }
    if (ev->seal_leaf >= x->seal.count)
        return LDG_ECORRUPT;
    if ((rc = ldg_seal_inclusion((const uint8_t(*)[32])x->seal_dig,
                                 (size_t)x->seal.count, (size_t)ev->seal_leaf,
                                 path, &np)) < 0)
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
    text[len] = '\0';
    snprintf(name, sizeof name, "sealproofs/%llu.proof",
             (unsigned long long)ev->seq);
    return member_put(x, name, text, len, text);
}

static int
write_event(struct ex *x, const struct sel *s)
{
    struct ldg_event ev;
    enum bmode mode = BM_FULL;
    struct ldg_buf lb = {0};
    json_t *names = NULL;
    char name[48], *proof = NULL;
    int rc;

    /* The stored bytes go into the bundle as they are and the reader
     * checks everything, so the display decode is enough here; the leaf
     * hash is the stored one (it is what the proof is about). */
    if ((rc = ldg_event_get_ex(x->t, s->seq, &ev, LDG_DECODE_TRUSTED)) < 0 ||
        (rc = ldg_tree_stored_hash(x->t, 0, s->seq, ev.leaf)) < 0) {
        ldg_set_errmsg(x->l, "event %llu: %s", (unsigned long long)s->seq,
                       ldg_strerror(rc));
        return rc;
    }
    snprintf(name, sizeof name, "entries/%llu.entry",
             (unsigned long long)s->seq);
    if ((rc = member(x, name, ev.entry, ev.entry_len)) < 0)
        return rc;
    if ((rc = ldg_proof_batch_text(x->proofs, s->seq, &proof, NULL)) < 0) {
        ldg_set_errmsg(x->l, "event %llu: inclusion proof: %s",
                       (unsigned long long)s->seq, ldg_strerror(rc));
        return rc;
    }
    snprintf(name, sizeof name, "proofs/%llu.proof",
             (unsigned long long)s->seq);
    if ((rc = member_put(x, name, proof, strlen(proof), proof)) < 0)
        return rc;
    if (ev.sealed && (rc = write_seal(x, &ev)) < 0)
        return rc;
    names = json_array();
    if (names == NULL)
        return LDG_ENOMEM;
    if ((rc = body_member(x, &ev, &mode, &lb, names)) < 0)
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
        rc = jsonl_line(x, &ev, mode, &lb, names);
out:
    free(lb.p);
    json_decref(names);
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
static void
load_state(struct ex *x)
{
    json_t *st = NULL, *note;
    char msg[200];
    int rc;

    if (x->o->no_state) {
        snprintf(x->rep.state_detail, sizeof x->rep.state_detail,
                 "left out on request");
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

static int
write_state(struct ex *x)
{
    int rc;
    if (x->state == NULL)
        return 0;
    rc = member_json(x, B_STATE, json_incref(x->state), JSON_INDENT(1));
    if (rc == 0 && x->state_note != NULL)
        rc = member(x, B_STATE_NOTE, x->state_note, strlen(x->state_note));
    return rc;
}

static json_t *
state_json(struct ex *x)
{
    if (x->state == NULL)
        return json_pack("{s:b, s:s}", "included", 0, "reason",
                         x->rep.state_detail);
    return json_pack("{s:b, s:o, s:s, s:o}", "included", 1, "size",
                     json_u64(x->cksize), "scope", "whole", "note",
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
    return json_pack("{s:s, s:s, s:s,"
                     " s:{s:o, s:s, s:o, s:s},"
                     " s:{s:o, s:o, s:o},"
                     " s:{s:o, s:s},"
                     " s:{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o},"
                     " s:{s:o, s:o},"
                     " s:o, s:o}",
                     "format", LDG_BUNDLE_MAGIC, "origin", x->origin, "log_key",
                     x->vkey, "created", "ts", json_u64(now_ns), "time", tbuf,
                     "by",
                     o->exported_by ? json_string(o->exported_by) : json_null(),
                     "tool", "ledger export", "selection", "terms",
                     str_array(o->terms, (size_t)o->nterms), "since",
                     o->since ? json_string(o->since) : json_null(), "until",
                     o->until ? json_string(o->until) : json_null(),
                     "checkpoint", "size", json_u64(x->cksize), "root", rootb64,
                     "counts", "selected", json_u64(x->rep.selected), "support",
                     json_u64(x->rep.support), "entries", json_u64(x->nev),
                     "bodies_full", json_u64(x->rep.bodies_full),
                     "bodies_redacted", json_u64(x->rep.bodies_redacted),
                     "bodies_withheld", json_u64(x->rep.bodies_withheld),
                     "bodies_erased", json_u64(x->rep.bodies_erased),
                     "fields_withheld", json_u64(x->rep.fields_withheld),
                     "redaction", "fields", json_u64(o->nredact_fields),
                     "body_types", str_array(o->redact_types, o->nredact_types),
                     "keys", keys, "state", state_json(x));
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
static int
write_manifest(struct ex *x, uint64_t now_ns)
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
            ldg_set_errmsg(l, "--redact: empty field name");
            return LDG_EBADINPUT;
        }
    }
    for (size_t i = 0; i < o->nredact_types; i++) {
        if (o->redact_types[i] == NULL || o->redact_types[i][0] == '\0') {
            ldg_set_errmsg(l, "--redact-body: empty event type");
            return LDG_EBADINPUT;
        }
        if (protected_type(o->redact_types[i])) {
            ldg_set_errmsg(l,
                           "--redact-body %s: bodies of %s events are "
                           "needed to verify the bundle and cannot be "
                           "withheld",
                           o->redact_types[i], o->redact_types[i]);
            return LDG_EBADINPUT;
        }
    }
    return 0;
}

/* The checkpoint every proof is against, checked with our own key. */
static int
load_checkpoint(struct ex *x)
{
    int rc = ldg_verifier_key(x->l, x->vkey, sizeof x->vkey);
    if (rc < 0)
        return rc;
    rc = ldg_checkpoint_get(x->t, 0, &x->ck);
    if (rc < 0) {
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
        return LDG_ECORRUPT;
    }
    x->rep.checkpoint_size = x->cksize;
    return 0;
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
        return LDG_ECORRUPT;
    }
    if (size > x->cksize) {
        snprintf(x->rep.cosigned_detail, sizeof x->rep.cosigned_detail,
                 "cosigned checkpoint of size %llu is newer than the "
                 "bundle's (%llu): not carried",
                 (unsigned long long)size, (unsigned long long)x->cksize);
        return 0;
    }
    rc = ldg_consistency_text(x->t, size, x->cksize, &x->cosigned_proof);
    if (rc < 0) {
        ldg_set_errmsg(x->l,
                       "consistency proof from the cosigned size %llu "
                       "to %llu: %s",
                       (unsigned long long)size, (unsigned long long)x->cksize,
                       ldg_strerror(rc));
        return rc;
    }
    /* the signature lines after the blank line, the log's one aside */
    (void)ldg_note_verify_vkey(x->vkey, note, x->o->cosigned_len, &tlen);
    for (size_t i = tlen; i + 1 < x->o->cosigned_len; i++)
        if (note[i] == '\n' && strncmp(note + i + 1, "\xe2\x80\x94 ", 4) == 0)
            lines++;
    x->rep.cosigned_size = size;
    x->rep.cosignatures = lines > 0 ? lines - 1 : 0;
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
    if ((rc = member(x, B_COSIGNED, x->o->cosigned_note, x->o->cosigned_len)) <
        0)
        return rc;
    return member(x, B_COSIGNED_PROOF, x->cosigned_proof,
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
        rc = ldg_event_get_ex(x->t, x->ev[i].seq, &ev, LDG_DECODE_TRUSTED);
        if (rc < 0) {
            ldg_set_errmsg(x->l, "event %llu: %s",
                           (unsigned long long)x->ev[i].seq, ldg_strerror(rc));
            break;
        }
        if (protected_type(ev.type))
            continue;
        for (size_t k = 0; k < nt; k++)
            hit_t[k] |= strcmp(ev.type, o->redact_types[k]) == 0;
        if (nf == 0)
            continue;
        rc = ldg_body_fields(x->t, ev.seq, &f, &n);
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
            ldg_set_errmsg(x->l,
                           "--redact %s: no selected event has a body field "
                           "named '%s' (a typo would let the data out); "
                           "check the name, or pass --redact-allow-missing",
                           o->redact_fields[k], o->redact_fields[k]);
            rc = LDG_EBADINPUT;
        }
    }
    for (size_t k = 0; rc == 0 && k < nt; k++) {
        if (!hit_t[k]) {
            ldg_set_errmsg(x->l,
                           "--redact-body %s: no selected event is of type "
                           "'%s'; check the name, or pass "
                           "--redact-allow-missing",
                           o->redact_types[k], o->redact_types[k]);
            rc = LDG_EBADINPUT;
        }
    }
out:
    free(hit_f);
    free(hit_t);
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
                   "checkpoint of size %llu); pass --allow-empty for an "
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
    int rc = seqs == NULL ? LDG_ENOMEM : ldg_vouch_new(&v, x->t);

    for (size_t i = 0; rc == 0 && i < x->nev; i++)
        seqs[i] = x->ev[i].seq;
    if (rc == 0)
        rc = ldg_vouch_events(v, seqs, x->nev, x->o->threads, why, sizeof why);
    if (rc == LDG_ETAMPER)
        ldg_set_errmsg(x->l,
                       "refusing to export: %s (ledger verify --full "
                       "shows the whole finding)",
                       why);
    else if (rc < 0)
        ldg_set_errmsg(x->l, "checking the events to export: %s%s%s",
                       ldg_strerror(rc), why[0] ? ": " : "", why);
    ldg_vouch_free(v);
    free(seqs);
    return rc;
}

/* --------------------------------------------------- README and SUMMARY -- */

/* "2026-11-22 09:39:01 UTC": seconds, no fraction (human text). */
static void
human_utc(char *buf, size_t cap, uint64_t ts_ns)
{
    char base[32];
    if (ldg_time_rfc3339_base(base, sizeof base,
                              (int64_t)(ts_ns / 1000000000u)) < 0) {
        snprintf(buf, cap, "?");
        return;
    }
    base[10] = ' '; /* "2026-11-22T09:39:01" -> "2026-11-22 09:39:01" */
    snprintf(buf, cap, "%s UTC", base);
}

/* README.txt: what the bundle is and how to check it, with the exact
 * commands (the verifier key spelled out, to be compared with one
 * received another way). */
static int
write_readme(struct ex *x, uint64_t now_ns)
{
    struct ldg_buf b = {0};
    char when[48];
    const char *file = x->file;

    human_utc(when, sizeof when, now_ns);
    ldg_buf_printf(&b,
                   "This is a ledger evidence bundle (format %s), named %s.\n"
                   "\n",
                   LDG_BUNDLE_MAGIC, x->top);
    ldg_buf_printf(
        &b,
        "It holds %llu signed, hash-chained events from the ledger "
        "of\n%s, exported with `ledger export` on\n%s. Each event "
        "comes with a Merkle inclusion proof against the\nlog's "
        "signed checkpoint of size %llu (the file `checkpoint`), "
        "and\nmanifest.json, which lists every file with its SHA-256, "
        "is signed with the\nlog's key (manifest.sig). SUMMARY.txt "
        "says in words what the events\nshow; events.jsonl has them "
        "decoded, one JSON object a line.\n\n",
        (unsigned long long)x->nev, x->origin, when,
        (unsigned long long)x->cksize);
    ldg_buf_puts(&b, "How to verify it (offline: no ledger and no network are "
                     "needed)\n\n");
    ldg_buf_printf(
        &b,
        "1. Get the log's verifier key from the box's owner through a "
        "channel you\n   trust (`ledger keys verifier` prints it on "
        "the box). Not from this\n   bundle: its own copy, log.vkey, "
        "only shows the bundle agrees with itself.\n   The key this "
        "bundle was signed with is:\n\n     %s\n\n",
        x->vkey);
    ldg_buf_printf(&b,
                   "2. Check the bundle file (exit 0: verified; 1: a check "
                   "failed; 65: not a\n   readable bundle):\n\n"
                   "     ledger verify-bundle --trusted-key '%s' %s\n\n",
                   x->vkey, file);
    ldg_buf_printf(
        &b,
        "3. If you unpacked it, pack the directory again and check "
        "that (the order\n   of the files does not matter):\n\n"
        "     tar --zstd -cf %s.tar.zst %s\n"
        "     ledger verify-bundle --trusted-key '%s' %s.tar.zst\n\n",
        x->top, x->top, x->vkey, x->top);
    ldg_buf_printf(&b,
                   "   To check and unpack in one go:\n\n"
                   "     ledger verify-bundle --trusted-key '%s' %s --extract "
                   "DIR\n\n",
                   x->vkey, file);
    ldg_buf_printf(&b,
                   "With the key passed the same way, `ledger timeline RUN "
                   "--bundle %s`,\n`ledger query --bundle %s` and `ledger "
                   "doctor --bundle %s` read the\nbundle after verifying it. "
                   "Every byte of the layout is described in\n"
                   "docs/format-bundle.md of the ledger's source.\n",
                   file, file, file);
    if (b.err) {
        free(b.p);
        return b.err;
    }
    return member_put(x, B_README, b.p, b.len, b.p);
}

static const char *
jget(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s != NULL ? s : "";
}

static int
jis(const json_t *o, const char *k, const char *v)
{
    return strcmp(jget(o, k), v) == 0;
}

/* Does the event (a line of events.jsonl) report a failure, a denial or
 * something down? The timeline's rule for marking a line with '!'. */
static const char *
failure_of(const json_t *e)
{
    const json_t *body = json_object_get(e, "body");
    const char *type = jget(e, "type");
    if (body == NULL)
        return NULL;
    if (jis(body, "decision", "deny"))
        return "denied";
    if (jis(body, "status", "failed") || jis(body, "status", "aborted") ||
        jis(body, "outcome", "error"))
        return "failed";
    if (strcmp(type, "permission.revoked") == 0 ||
        strcmp(type, "permission.denied") == 0)
        return "permission withdrawn";
    if (strcmp(type, "promotion.rolled_back") == 0)
        return "rolled back";
    if (jis(body, "state", "offline") || jis(body, "state", "removed"))
        return "model unavailable";
    if (jis(body, "status", "down") || jis(body, "status", "degraded"))
        return "runtime unhealthy";
    if (json_is_false(json_object_get(body, "passed")) ||
        json_is_false(json_object_get(body, "ok")))
        return "check failed";
    return NULL;
}

/* The doctor (log-derived clauses) after the first size events. */
static json_t *
summary_doctor(struct ex *x, struct ldg_buf *b, const char *title,
               uint64_t size, const char *pack)
{
    struct ldg_view_opts vo;
    json_t *d = NULL, *p, *c;
    char msg[512];
    size_t i, j, k;
    int shown = 0;

    memset(&vo, 0, sizeof vo);
    vo.at_size = size;
    snprintf(msg, sizeof msg, "%s", ldg_errmsg(x->l));
    if (ldg_projections_view(x->l, LDG_VIEW_DOCTOR, &vo, &d) < 0) {
        ldg_buf_printf(b, "\n%s: not available (%s)\n", title,
                       ldg_errmsg(x->l));
        ldg_set_errmsg(x->l, "%s", msg);
        return NULL;
    }
    ldg_buf_printf(b, "\n%s (log size %llu): %s\n", title,
                   (unsigned long long)size, jget(d, "verdict"));
    json_array_foreach(json_object_get(d, "packs"), i, p)
    {
        if (pack != NULL && !jis(p, "pack", pack))
            continue;
        json_array_foreach(json_object_get(p, "clauses"), j, c)
        {
            json_t *line;
            if (jis(c, "status", "ok"))
                continue;
            ldg_buf_printf(b, "  %-4s pack %s: %s\n",
                           jis(c, "status", "fail") ? "FAIL" : "WARN",
                           jget(p, "pack"), jget(c, "name"));
            json_array_foreach(json_object_get(c, "detail"), k, line)
                ldg_buf_printf(b, "         %s\n", json_string_value(line));
            shown++;
        }
    }
    json_array_foreach(json_object_get(d, "box"), i, c)
    {
        json_t *line;
        if (jis(c, "status", "ok"))
            continue;
        ldg_buf_printf(b, "  %-4s %s\n",
                       jis(c, "status", "fail") ? "FAIL" : "WARN",
                       jget(c, "name"));
        json_array_foreach(json_object_get(c, "detail"), k, line)
            ldg_buf_printf(b, "         %s\n", json_string_value(line));
        shown++;
    }
    if (shown == 0)
        ldg_buf_puts(b, "  every clause holds\n");
    return d;
}

/* Sizes of the longest run whose doctor is kept at every point. */
#define DOCTOR_POINTS_MAX 512

static json_t *
dec_json(uint64_t v)
{
    char b[24];
    snprintf(b, sizeof b, "%llu", (unsigned long long)v);
    return json_string(b);
}

/*
 * timeline.json's "doctor_points": the doctor after every size from lo to
 * hi (the events before the run's start through its end), so that `ledger
 * doctor --bundle --at` answers at any event or time of the run. Kept
 * where it changes: {"size", "seq" (the last event in), "ts" (its time),
 * "doctor"}; "ts" lists the time of every event lo-1..hi-1 (for --at
 * TIME), "first_ts" and "last_ts" are the first and last of them,
 * "next_ts" the time of the event after hi, when the checkpoint holds
 * one: a time before it is still at hi. A run longer than
 * DOCTOR_POINTS_MAX events keeps only the start and end ("doctor").
 */
static void
doctor_points(struct ex *x, uint64_t lo, uint64_t hi)
{
    json_t *pts, *prev = NULL, *o, *times;
    struct ldg_event ev;
    char msg[512];

    if (hi < lo || hi - lo > DOCTOR_POINTS_MAX)
        return;
    snprintf(msg, sizeof msg, "%s", ldg_errmsg(x->l));
    pts = json_array();
    times = json_array();
    for (uint64_t size = lo; size <= hi; size++) {
        struct ldg_view_opts vo;
        json_t *d = NULL, *cmp;
        memset(&vo, 0, sizeof vo);
        vo.at_size = size;
        if (ldg_projections_view(x->l, LDG_VIEW_DOCTOR, &vo, &d) < 0 ||
            ldg_event_get(x->t, size - 1, &ev) < 0) {
            json_decref(d);
            json_decref(pts);
            json_decref(times);
            json_decref(prev);
            ldg_set_errmsg(x->l, "%s", msg);
            return; /* the start and end doctors remain */
        }
        json_array_append_new(times, dec_json(ev.ts_ns));
        cmp = json_deep_copy(d);
        json_object_del(cmp, "size");
        if (prev != NULL && json_equal(prev, cmp)) {
            json_decref(cmp);
            json_decref(d);
            continue;
        }
        json_decref(prev);
        prev = cmp;
        json_array_append_new(pts, json_pack("{s:o, s:o, s:o, s:o}", "size",
                                             dec_json(size), "seq",
                                             dec_json(size - 1), "ts",
                                             dec_json(ev.ts_ns), "doctor", d));
    }
    json_decref(prev);
    o = json_pack("{s:o, s:o, s:o, s:o}", "first_size", dec_json(lo),
                  "last_size", dec_json(hi), "points", pts, "ts", times);
    if (ldg_event_get(x->t, lo - 1, &ev) == 0)
        json_object_set_new(o, "first_ts", dec_json(ev.ts_ns));
    if (ldg_event_get(x->t, hi - 1, &ev) == 0)
        json_object_set_new(o, "last_ts", dec_json(ev.ts_ns));
    if (hi < x->cksize && ldg_event_get(x->t, hi, &ev) == 0)
        json_object_set_new(o, "next_ts", dec_json(ev.ts_ns));
    json_object_set_new(x->timeline, "doctor_points", o);
    ldg_set_errmsg(x->l, "%s", msg);
}

/* The run's timeline and the doctor at its start and end. Only for a
 * bundle that redacts nothing: both read whole bodies. */
static void
summary_run(struct ex *x, struct ldg_buf *b)
{
    const char *run = x->o->run;
    json_t *tl = NULL, *docs, *d;
    char *text = NULL;
    uint64_t s = 0, e = 0;

    if (x->o->nredact_fields > 0 || x->o->nredact_types > 0) {
        ldg_buf_printf(b,
                       "\nThe timeline of run %s and the doctor are left out: "
                       "fields or bodies\nwere redacted, and both would show "
                       "them.\n",
                       run);
        return;
    }
    if (ldg_query_timeline(x->t, run, &tl) < 0 ||
        ldg_query_timeline_text(tl, &text) < 0) {
        ldg_buf_printf(b, "\nRun %s: no timeline (%s)\n", run,
                       ldg_errmsg(x->l));
        json_decref(tl);
        return;
    }
    ldg_buf_printf(b, "\nRun %s, as `ledger timeline %s` shows it:\n\n", run,
                   run);
    ldg_buf_puts(b, text);
    if (parse_dec(jget(json_object_get(tl, "start"), "seq"),
                  strlen(jget(json_object_get(tl, "start"), "seq")), &s) < 0)
        s = 0;
    if (parse_dec(jget(json_object_get(tl, "end"), "seq"),
                  strlen(jget(json_object_get(tl, "end"), "seq")), &e) < 0)
        e = 0;
    docs = json_array();
    if (s > 0 && (d = summary_doctor(
                      x, b, "Doctor at the run's start", s,
                      json_string_value(json_object_get(tl, "pack")))) != NULL)
        json_array_append_new(docs, d);
    if (e > 0 && e < x->cksize &&
        (d = summary_doctor(x, b, "Doctor at the run's end", e + 1,
                            json_string_value(json_object_get(tl, "pack")))) !=
            NULL)
        json_array_append_new(docs, d);
    else if (e == 0)
        ldg_buf_printf(b, "\nThe run has no end event up to the checkpoint.\n");
    free(text);
    /* timeline.json: the same, for `ledger timeline --bundle` and `ledger
     * doctor --bundle --at` on the receiving side */
    x->timeline = json_pack("{s:s, s:o, s:o}", "run", run, "timeline", tl,
                            "doctor", docs);
    if (x->timeline != NULL && s > 0 && e >= s)
        doctor_points(x, s, e + 1 < x->cksize ? e + 1 : x->cksize);
}

#define SUMMARY_LIST_MAX 200

/* SUMMARY.txt: the bundle in words, for the person who receives it. */
static int
write_summary(struct ex *x, uint64_t now_ns)
{
    const struct ldg_export_opts *o = x->o;
    struct ldg_buf b = {0};
    char when[48], t0[48] = "", t1[48] = "";
    const char *p, *end;
    size_t nfail = 0, nlist = 0;
    json_t **sel = NULL;
    size_t nsel = 0;
    int rc = 0;

    human_utc(when, sizeof when, now_ns);
    ldg_buf_printf(&b, "Summary of evidence bundle %s\n\n", x->top);
    ldg_buf_printf(&b, "From the ledger of %s, exported on %s%s%s.\n",
                   x->origin, when, o->exported_by ? " by " : "",
                   o->exported_by ? o->exported_by : "");
    ldg_buf_puts(&b, "Selection:");
    if (o->nterms == 0 && !o->since && !o->until)
        ldg_buf_puts(&b, " every event");
    for (int i = 0; i < o->nterms; i++)
        ldg_buf_printf(&b, " %s", o->terms[i]);
    if (o->since)
        ldg_buf_printf(&b, " since %s", o->since);
    if (o->until)
        ldg_buf_printf(&b, " until %s", o->until);
    ldg_buf_puts(&b, "\n");
    ldg_buf_printf(
        &b,
        "Events: %llu: %llu selected, %llu added to establish keys "
        "or erasures,\n        each proven against the signed "
        "checkpoint of size %llu.\n",
        (unsigned long long)x->nev, (unsigned long long)x->rep.selected,
        (unsigned long long)x->rep.support, (unsigned long long)x->cksize);
    ldg_buf_printf(&b,
                   "Bodies: %llu whole, %llu redacted (%llu fields withheld), "
                   "%llu withheld whole,\n        %llu erased in the ledger.\n",
                   (unsigned long long)x->rep.bodies_full,
                   (unsigned long long)x->rep.bodies_redacted,
                   (unsigned long long)x->rep.fields_withheld,
                   (unsigned long long)x->rep.bodies_withheld,
                   (unsigned long long)x->rep.bodies_erased);
    ldg_buf_printf(&b, "Projected state: %s.\n", x->rep.state_detail);

    /* the selected events, from events.jsonl (already redacted) */
    p = x->jsonl.s;
    end = p ? p + x->jsonl.len : p;
    while (p != NULL && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        json_t *e, **n;
        if (nl == NULL)
            nl = end;
        e = json_loadb(p, (size_t)(nl - p), 0, NULL);
        p = nl + 1;
        if (e == NULL)
            continue;
        n = realloc(sel, (nsel + 1) * sizeof *n);
        if (n == NULL) {
            json_decref(e);
            rc = LDG_ENOMEM;
            goto out;
        }
        sel = n;
        sel[nsel++] = e;
    }
    if (nsel > 0) {
        uint64_t a = 0, z = 0;
        const char *ta = jget(sel[0], "ts"), *tz = jget(sel[nsel - 1], "ts");
        if (parse_dec(ta, strlen(ta), &a) == 0)
            human_utc(t0, sizeof t0, a);
        if (parse_dec(tz, strlen(tz), &z) == 0)
            human_utc(t1, sizeof t1, z);
        ldg_buf_printf(&b, "Time span: %s to %s.\n", t0, t1);
    }
    for (size_t i = 0; i < nsel; i++)
        nfail += failure_of(sel[i]) != NULL;
    ldg_buf_printf(&b, "\nWhat failed or was refused: %zu event%s\n", nfail,
                   nfail == 1 ? "" : "s");
    if (nfail == 0)
        ldg_buf_puts(&b,
                     "  nothing: no selected event reports a failure, a "
                     "denial, a withdrawn\n  permission, a model offline or "
                     "a runtime down\n");
    for (size_t i = 0; i < nsel; i++) {
        const char *why = failure_of(sel[i]);
        uint64_t ts = 0;
        const char *tss = jget(sel[i], "ts");
        if (why == NULL)
            continue;
        if (parse_dec(tss, strlen(tss), &ts) == 0)
            human_utc(t0, sizeof t0, ts);
        ldg_buf_printf(&b, "  #%-6s %s  %-22s %s  (%s)\n", jget(sel[i], "seq"),
                       t0, jget(sel[i], "type"), jget(sel[i], "subject"), why);
    }
    if (o->run != NULL)
        summary_run(x, &b);
    else if (x->state != NULL)
        json_decref(
            summary_doctor(x, &b, "Doctor at the checkpoint", x->cksize, NULL));
    ldg_buf_printf(&b, "\nEvents selected (%zu):\n", nsel);
    for (size_t i = 0; i < nsel && nlist < SUMMARY_LIST_MAX; i++, nlist++) {
        uint64_t ts = 0;
        const char *tss = jget(sel[i], "ts"), *run = jget(sel[i], "run");
        if (parse_dec(tss, strlen(tss), &ts) == 0)
            human_utc(t0, sizeof t0, ts);
        ldg_buf_printf(&b, "  #%-6s %s  %-22s %s%s%s%s\n", jget(sel[i], "seq"),
                       t0, jget(sel[i], "type"), jget(sel[i], "subject"),
                       *run ? "  run " : "", run,
                       json_is_true(json_object_get(sel[i], "body_withheld"))
                           ? "  [body withheld]"
                       : json_is_true(json_object_get(sel[i], "erased"))
                           ? "  [body erased]"
                           : "");
    }
    if (nsel > nlist)
        ldg_buf_printf(&b, "  ... and %zu more: events.jsonl has every one\n",
                       nsel - nlist);
    if (b.err) {
        rc = b.err;
        goto out;
    }
    rc = member_put(x, B_SUMMARY, b.p, b.len, b.p);
    b.p = NULL;
out:
    for (size_t i = 0; i < nsel; i++)
        json_decref(sel[i]);
    free(sel);
    free(b.p);
    return rc;
}

static int
write_all_members(struct ex *x)
{
    char vk[520];
    int rc;

    snprintf(vk, sizeof vk, "%s\n", x->vkey);
    if ((rc = member(x, B_MAGIC, LDG_BUNDLE_MAGIC "\n",
                     strlen(LDG_BUNDLE_MAGIC "\n"))) < 0 ||
        (rc = member(x, B_VKEY, vk, strlen(vk))) < 0 ||
        (rc = member(x, B_CHECKPOINT, x->ck, strlen(x->ck))) < 0 ||
        (rc = write_cosigned(x)) < 0 || (rc = write_keys(x)) < 0)
        return rc;
    for (size_t i = 0; i < x->nev; i++) {
        if ((rc = write_event(x, &x->ev[i])) < 0)
            return rc;
        if (x->o->progress && (i % PROGRESS_EVERY == 0 || i + 1 == x->nev))
            x->o->progress(x->o->progress_ctx, i + 1, x->nev);
    }
    if (x->jsonl.err)
        return x->jsonl.err;
    if ((rc = write_state(x)) < 0 || (rc = write_summary(x, x->now_ns)) < 0 ||
        (rc = write_readme(x, x->now_ns)) < 0)
        return rc;
    if (x->timeline != NULL &&
        (rc = member_json(x, B_TIMELINE, json_incref(x->timeline),
                          JSON_INDENT(1))) < 0)
        return rc;
    rc = member_put(x, B_EVENTS, x->jsonl.s ? x->jsonl.s : "", x->jsonl.len,
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
    struct timespec now;
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
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &x.t)) < 0)
        goto out;
    if ((rc = load_checkpoint(&x)) < 0 || (rc = prepare_cosigned(&x)) < 0 ||
        (rc = select_events(&x, q)) < 0 || (rc = check_not_empty(&x)) < 0 ||
        (rc = select_support(&x)) < 0 ||
        (rc = check_redactions_match(&x)) < 0 || (rc = vouch_all(&x)) < 0)
        goto out;
    if ((rc = ldg_proof_batch_new(&x.proofs, x.t, x.cksize)) < 0) {
        ldg_set_errmsg(l, "inclusion proofs at size %llu: %s",
                       (unsigned long long)x.cksize, ldg_strerror(rc));
        goto out;
    }
    load_state(&x);
    clock_gettime(CLOCK_REALTIME, &now);
    now_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
    x.now_ns = now_ns;
    rc = bwriter_new(&x.w, fd, o->level ? o->level : 1,
                     o->threads ? o->threads : 2, (int64_t)now.tv_sec, x.top,
                     err, sizeof err);
    if (rc < 0) {
        ldg_set_errmsg(l, "%s", err);
        goto out;
    }
    queue_start(&x);
    rc = write_all_members(&x);
    if (queue_finish(&x) < 0 && rc == 0)
        rc = x.q.err;
    if (rc < 0 || (rc = write_manifest(&x, now_ns)) < 0)
        goto out;
    rc = bwriter_finish(x.w, &x.rep.bytes);
    if (rc < 0)
        ldg_set_errmsg(l, "writing the bundle: %s", bwriter_errmsg(x.w));
out:
    queue_finish(&x); /* after an early failure */
    if (x.q.inited) {
        pthread_mutex_destroy(&x.q.mu);
        pthread_cond_destroy(&x.q.nonempty);
        pthread_cond_destroy(&x.q.nonfull);
    }
    if (rc < 0 && ldg_errmsg(l)[0] == '\0')
        ldg_set_errmsg(l, "export: %s", ldg_strerror(rc));
    if (rc == 0 && report != NULL)
        *report = x.rep;
    bwriter_free(x.w);
    ldg_proof_batch_free(x.proofs);
    free(x.seal_dig);
    ldg_query_models_free(x.models);
    ldg_txn_abort(x.t);
    ldg_query_free(q);
    free(x.mfiles.p);
    free(x.msizes.p);
    free(x.mevents.p);
    json_decref(x.state);
    json_decref(x.timeline);
    free(x.state_note);
    free(x.jsonl.p);
    free(x.ev);
    free(x.keys);
    free(x.ck);
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
        const char *p = buf;
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            break;
        while (got > 0) {
            ssize_t w = write(fd, p, (size_t)got);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                got = -1;
                break;
            }
            p += w;
            got -= w;
        }
        if (got < 0)
            break;
    }
    free(buf);
    return got == 0 ? 0 : -1;
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
        return export_into(l, o, fd, report);
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
    rc = export_into(l, o, t, report);
    if (rc == 0 && copy_out(t, fd) < 0) {
        ldg_set_errmsg(l, "writing the bundle: %s", strerror(errno));
        rc = LDG_EIO;
    }
    close(t);
    return rc;
}

int
ldg_export_write(struct ldg_ledger *l, const struct ldg_export_opts *o,
                 const char *path, struct ldg_export_report *report)
{
    struct stat st;
    char *tmp = NULL;
    size_t n;
    int fd = -1, rc;

    if (l == NULL || o == NULL || path == NULL || *path == '\0')
        return LDG_EINVAL;
    if (lstat(path, &st) == 0) {
        ldg_set_errmsg(l, "%s already exists; not overwriting it", path);
        return LDG_EEXIST;
    }
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
    fd = mkstemp(tmp);
    if (fd < 0) {
        ldg_set_errmsg(l, "cannot create %s: %s", tmp, strerror(errno));
        free(tmp);
        return LDG_EIO;
    }
    rc = ldg_export_write_fd(l, o, fd, report);
    if (rc == 0 && fsync(fd) < 0) {
        ldg_set_errmsg(l, "%s: %s", tmp, strerror(errno));
        rc = LDG_EIO;
    }
    if (close(fd) < 0 && rc == 0) {
        ldg_set_errmsg(l, "%s: %s", tmp, strerror(errno));
        rc = LDG_EIO;
    }
    /* link() never replaces: a file that appeared meanwhile is kept. */
    if (rc == 0 && link(tmp, path) < 0) {
        ldg_set_errmsg(l, "cannot create %s: %s", path, strerror(errno));
        rc = errno == EEXIST ? LDG_EEXIST : LDG_EIO;
    }
    unlink(tmp);
    free(tmp);
    return rc;
}
