/*
 * seal_client.c — the writer's side of a seal (docs/FORMAT.md section 3,
 * "Client-held keys"): a writer that holds its own key builds the claims
 * of its events, their RFC 6962 root and the seal signature, before it
 * knows any sequence number, and sends the result as one sealed batch:
 *
 *   {"sealed": {"key": K, "first": F, "count": N, "sig": base64,
 *               "events": [{"type", "subject", "run", "parent", "id",
 *                           "time", "body", "salts"}, ...]}}
 *
 * ldg_sealed_claim is the one place a sealed event's claim is computed
 * from what the batch carries, for the sealer here and for the ledger that
 * checks the batch, so the two cannot disagree on a byte.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/record_int.h"
#include "ledger/tlog_int.h"

/* Just the body commitment of body under salts (the same checks). */
static int
ldg_sealed_commitment(const json_t *body, const json_t *salts, size_t body_max,
                      uint8_t root[32], char *err, size_t errcap)
{
    uint8_t(*dig)[32] = NULL;
    const char *k;
    json_t *v;
    size_t n, i = 0, total = 0;
    int rc = 0;

    if (body != NULL && !json_is_object(body))
        return ldg_errf(err, errcap, LDG_EBADINPUT, "body: must be an object");
    if (salts != NULL && !json_is_object(salts))
        return ldg_errf(err, errcap, LDG_EBADINPUT, "salts: must be an object");
    n = body ? json_object_size(body) : 0;
    if (n > LDG_FIELDS_MAX)
        return ldg_errf(err, errcap, LDG_ETOOBIG,
                        "body has %zu fields, more than %d", n, LDG_FIELDS_MAX);
    json_object_foreach((json_t *)(uintptr_t)salts, k, v)
    {
        if (body == NULL || json_object_get(body, k) == NULL)
            return ldg_errf(err, errcap, LDG_EBADINPUT,
                            "salts.%s: the body has no such field", k);
    }
    if (n > 0 && (dig = malloc(n * sizeof *dig)) == NULL)
        return LDG_ENOMEM;
    if (body != NULL) {
        json_object_foreach((json_t *)(uintptr_t)body, k, v)
        {
            const json_t *s = json_object_get(salts, k);
            uint8_t salt[LDG_SALT_LEN];
            uint8_t *mp = NULL;
            size_t mlen = 0;
            if (!json_is_string(s) || json_string_length(s) != 32 ||
                ldg_unhex(salt, LDG_SALT_LEN, json_string_value(s)) < 0) {
                rc = ldg_errf(err, errcap, LDG_EBADINPUT,
                              s == NULL ? "salts: no salt for body field '%s'"
                                        : "salts.%s: must be 32 hex digits",
                              k);
                break;
            }
            if (ldg_json_depth(v, LDG_DEPTH_MAX) > LDG_DEPTH_MAX) {
                rc = ldg_errf(err, errcap, LDG_ETOOBIG,
                              "body field '%s' nests deeper than %d levels", k,
                              LDG_DEPTH_MAX);
                break;
            }
            /* the stored record holds name, salt and value: bound it as
             * the ledger will */
            rc = ldg_json_to_msgpack(v, body_max, &mp, &mlen);
            free(mp);
            total += mlen + strlen(k) + 24;
            if (rc == LDG_ETOOBIG || total > body_max) {
                rc = ldg_errf(err, errcap, LDG_ETOOBIG,
                              "body exceeds %zu bytes", body_max);
                break;
            }
            if (rc < 0 || (rc = ldg_field_digest(dig[i], salt, k, v)) < 0) {
                rc = ldg_errf(err, errcap, rc, "body field '%s': %s", k,
                              ldg_strerror(rc));
                break;
            }
            i++;
        }
    }
    if (rc == 0)
        ldg_body_root(root, (const uint8_t(*)[32])dig, n);
    free(dig);
    return rc;
}

int
ldg_type_log_only(const char *type)
{
    return strcmp(type, LDG_EV_LEDGER_GENESIS) == 0 ||
           strncmp(type, "key.", 4) == 0 ||
           strcmp(type, LDG_EV_BODY_ERASED) == 0 ||
           strcmp(type, LDG_EV_LEDGER_PRUNED) == 0;
}

int
ldg_sealed_claim(const struct ldg_event_in *in, const json_t *salts,
                 const char *key_id, size_t body_max, uint8_t *claim,
                 size_t cap, size_t *len, uint8_t digest[32], char *err,
                 size_t errcap)
{
    struct ldg_claim c;
    char subject[LDG_SUBJECT_MAX + 1], verr[512];
    const json_t *run;
    int rc;

    if (in == NULL || in->type == NULL)
        return ldg_errf(err, errcap, LDG_EBADINPUT, "type: required");
    if (in->body != NULL && !json_is_object(in->body))
        return ldg_errf(err, errcap, LDG_EBADINPUT, "body: must be an object");
    if (ldg_type_log_only(in->type))
        return ldg_errf(
            err, errcap, LDG_EBADINPUT,
            "type %s: the log key's alone, never sealed by a writer", in->type);
    if ((rc = ldg_vocab_check(in->type, in->body, verr, sizeof verr)) < 0)
        return ldg_errf(err, errcap, rc, "%s", verr);
    if (body_max == 0)
        body_max = LDG_BODY_MAX_DEFAULT;
    memset(&c, 0, sizeof c);
    if (key_id == NULL || strlen(key_id) != LDG_KEYID_LEN)
        return ldg_errf(err, errcap, LDG_EINVAL, "key: not a key id");
    memcpy(c.actor, key_id, LDG_KEYID_LEN + 1);
    if ((rc = ldg_sealed_commitment(in->body, salts, body_max, c.body, err,
                                    errcap)) < 0)
        return rc;
    c.type = in->type;
    c.type_len = strlen(in->type);
    if (in->subject != NULL) {
        const char *colon = strchr(in->subject, ':');
        if (strlen(in->subject) > LDG_SUBJECT_MAX)
            return ldg_errf(err, errcap, LDG_ETOOBIG,
                            "subject: longer than %d bytes", LDG_SUBJECT_MAX);
        if (colon == NULL || colon == in->subject || colon[1] == '\0')
            return ldg_errf(err, errcap, LDG_EBADINPUT,
                            "subject: must be kind:name, got '%s'",
                            in->subject);
        c.subject = in->subject;
    } else {
        if (ldg_vocab_subject(in->type, in->body, subject, sizeof subject) < 0)
            return ldg_errf(err, errcap, LDG_ETOOBIG,
                            "derived subject longer than %d bytes",
                            LDG_SUBJECT_MAX);
        c.subject = subject;
    }
    c.subject_len = strlen(c.subject);
    run = in->body ? json_object_get(in->body, "run") : NULL;
    if (in->run != NULL) {
        if (in->run[0] == '\0')
            return ldg_errf(err, errcap, LDG_EBADINPUT,
                            "run: must not be empty (leave it out for an event "
                            "outside a run)");
        if ((rc = ldg_vocab_run_check(in->type, in->body, in->run, verr,
                                      sizeof verr)) < 0)
            return ldg_errf(err, errcap, rc, "%s", verr);
        c.run = in->run;
    } else if (json_is_string(run) && json_string_length(run) > 0) {
        c.run = json_string_value(run);
    }
    if (c.run != NULL) {
        c.run_len = strlen(c.run);
        if (c.run_len > LDG_RUN_MAX)
            return ldg_errf(err, errcap, LDG_ETOOBIG,
                            "run: longer than %d bytes", LDG_RUN_MAX);
    }
    if (in->id != NULL) {
        if (!ldg_text_ok(in->id, LDG_ID_MAX))
            return ldg_errf(err, errcap, LDG_EBADINPUT,
                            "id: must be 1 to %d bytes without control "
                            "characters",
                            LDG_ID_MAX);
        c.id = in->id;
        c.id_len = strlen(in->id);
    }
    c.has_parent = in->has_parent;
    c.parent = in->parent;
    c.has_time = in->has_time;
    c.time_ns = in->time_ns;
    rc = ldg_claim_encode(&c, claim, cap, len);
    if (rc < 0)
        return ldg_errf(err, errcap, rc, "the claim does not encode: %s",
                        ldg_strerror(rc));
    ldg_claim_digest(digest, claim, *len);
    return 0;
}

/* ------------------------------------------------------------ sealer -- */

struct ldg_sealer {
    struct ldg_key *key; /* a copy of the caller's (with its secret) */
    char origin[LDG_ORIGIN_MAX + 1];
    uint64_t first;
    size_t body_max;
    json_t *events;
    uint8_t (*dig)[32];
    size_t n, cap;
    int has_seed;
    uint8_t seed[32];
};

int
ldg_sealer_begin(struct ldg_sealer **out, const char *origin,
                 const struct ldg_key *key, uint64_t first)
{
    struct ldg_sealer *s;
    uint8_t seed[32];
    int rc;

    if (out == NULL || !ldg_origin_valid(origin) || key == NULL ||
        key->sk == NULL || first > (uint64_t)INT64_MAX)
        return LDG_EINVAL;
    *out = NULL;
    s = calloc(1, sizeof *s);
    if (s == NULL)
        return LDG_ENOMEM;
    if ((rc = ldg_key_seed(key, seed)) < 0 ||
        (rc = ldg_key_from_seed(&s->key, key->name, seed)) < 0) {
        ldg_wipe(seed, sizeof seed);
        free(s);
        return rc;
    }
    ldg_wipe(seed, sizeof seed);
    memcpy(s->origin, origin, strlen(origin) + 1);
    s->first = first;
    s->body_max = LDG_BODY_MAX_DEFAULT;
    s->events = json_array();
    if (s->events == NULL) {
        ldg_sealer_free(s);
        return LDG_ENOMEM;
    }
    *out = s;
    return 0;
}

void
ldg_sealer_set_salt_seed(struct ldg_sealer *s, const uint8_t seed[32])
{
    if (s == NULL)
        return;
    s->has_seed = seed != NULL;
    if (seed != NULL)
        memcpy(s->seed, seed, 32);
}

size_t
ldg_sealer_count(const struct ldg_sealer *s)
{
    return s ? s->n : 0;
}

static void
salt_for(struct ldg_sealer *s, const char *name, uint8_t salt[LDG_SALT_LEN])
{
    if (!s->has_seed) {
        ldg_random(salt, LDG_SALT_LEN);
    } else {
        uint8_t msg[8 + 256];
        size_t n = strlen(name);
        if (n > 256)
            n = 256;
        ldg_be64(msg, s->first + s->n);
        memcpy(msg + 8, name, n);
        ldg_keyed_hash16(salt, s->seed, msg, 8 + n);
    }
}

int
ldg_sealer_add(struct ldg_sealer *s, const struct ldg_event_in *in, char *err,
               size_t errcap)
{
    uint8_t *claim = NULL;
    size_t clen;
    json_t *o = NULL, *salts = NULL, *body;
    const char *k;
    json_t *v;
    char subject[LDG_SUBJECT_MAX + 1];
    int rc;

    if (s == NULL || in == NULL)
        return LDG_EINVAL;
    if (err != NULL && errcap > 0)
        err[0] = '\0';
    if (s->n >= LDG_SEAL_EVENTS_MAX)
        return ldg_errf(err, errcap, LDG_ETOOBIG,
                        "a seal covers at most %d events", LDG_SEAL_EVENTS_MAX);
    if (in->source != NULL)
        return ldg_errf(err, errcap, LDG_EBADINPUT,
                        "source: the ledger's to record, not a writer's");
    if (in->body != NULL && !json_is_object(in->body))
        return ldg_errf(err, errcap, LDG_EBADINPUT, "body: must be an object");
    /* the batch carries numbers as JSON's signed 64-bit integers */
    if (s->first + s->n > (uint64_t)INT64_MAX)
        return ldg_errf(err, errcap, LDG_ETOOBIG,
                        "seq %llu: past the largest sequence number a "
                        "sealed batch carries (2^63 - 1)",
                        (unsigned long long)(s->first + s->n));
    if (in->has_time && in->time_ns > (uint64_t)INT64_MAX)
        return ldg_errf(err, errcap, LDG_EBADINPUT,
                        "time: %llu ns is after 2262, past what a sealed "
                        "batch carries",
                        (unsigned long long)in->time_ns);
    if (in->has_parent && in->parent > (uint64_t)INT64_MAX)
        return ldg_errf(err, errcap, LDG_EBADINPUT,
                        "parent: %llu is no sequence number",
                        (unsigned long long)in->parent);
    body = in->body ? json_incref(in->body) : json_object();
    salts = json_object();
    o = json_object();
    if (body == NULL || salts == NULL || o == NULL) {
        rc = LDG_ENOMEM;
        goto out;
    }
    json_object_foreach(body, k, v)
    {
        uint8_t salt[LDG_SALT_LEN];
        char hex[33];
        salt_for(s, k, salt);
        ldg_hex(hex, salt, LDG_SALT_LEN);
        if (json_object_set_new(salts, k, json_string(hex)) < 0) {
            rc = LDG_ENOMEM;
            goto out;
        }
    }
    claim = malloc(LDG_ENTRY_MAX);
    if (claim == NULL || s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 64;
        uint8_t(*nd)[32] = claim ? realloc(s->dig, nc * 32) : NULL;
        if (nd == NULL) {
            rc = LDG_ENOMEM;
            goto out;
        }
        s->dig = nd;
        s->cap = nc;
    }
    {
        /* the sealed event says its subject and run outright, so the
         * ledger needs no derivation of its own to reach the same claim */
        struct ldg_event_in e = *in;
        const json_t *run = json_object_get(body, "run");
        e.body = body;
        if (e.subject == NULL &&
            ldg_vocab_subject(in->type, body, subject, sizeof subject) == 0)
            e.subject = subject;
        if (e.run == NULL && json_is_string(run) && json_string_length(run) > 0)
            e.run = json_string_value(run);
        rc = ldg_sealed_claim(&e, salts, s->key->key_id, s->body_max, claim,
                              LDG_ENTRY_MAX, &clen, s->dig[s->n], err, errcap);
        if (rc < 0)
            goto out;
        if (json_object_set_new(o, "type", json_string(e.type)) < 0 ||
            json_object_set_new(o, "subject", json_string(e.subject)) < 0 ||
            (e.run != NULL &&
             json_object_set_new(o, "run", json_string(e.run)) < 0) ||
            (e.has_parent &&
             json_object_set_new(o, "parent",
                                 json_integer((json_int_t)e.parent)) < 0) ||
            (e.id != NULL &&
             json_object_set_new(o, "id", json_string(e.id)) < 0) ||
            (e.has_time &&
             json_object_set_new(o, "time",
                                 json_integer((json_int_t)e.time_ns)) < 0) ||
            json_object_set(o, "body", body) < 0 ||
            json_object_set(o, "salts", salts) < 0 ||
            json_array_append(s->events, o) < 0) {
            rc = LDG_ENOMEM;
            goto out;
        }
    }
    s->n++;
    rc = 0;
out:
    free(claim);
    json_decref(o);
    json_decref(salts);
    json_decref(body);
    return rc;
}

int
ldg_sealer_finish(struct ldg_sealer *s, json_t **out, char *err, size_t errcap)
{
    struct ldg_seal seal;
    char sig[89];
    int rc;

    if (s == NULL || out == NULL)
        return LDG_EINVAL;
    *out = NULL;
    if (s->n == 0)
        return ldg_errf(err, errcap, LDG_EBADINPUT,
                        "no events to seal (a seal covers 1 to %d)",
                        LDG_SEAL_EVENTS_MAX);
    memset(&seal, 0, sizeof seal);
    seal.count = s->n;
    seal.first = s->first;
    memcpy(seal.key_id, s->key->key_id, LDG_KEYID_LEN + 1);
    memcpy(seal.origin, s->origin, strlen(s->origin) + 1);
    if ((rc = ldg_seal_root((const uint8_t(*)[32])s->dig, s->n, seal.root)) <
            0 ||
        (rc = ldg_seal_sign(&seal, s->key)) < 0)
        return ldg_errf(err, errcap, rc, "cannot seal: %s", ldg_strerror(rc));
    ldg_base64(sig, seal.sig, 64);
    *out = json_pack("{s:{s:s, s:I, s:I, s:s, s:O}}", "sealed", "key",
                     seal.key_id, "first", (json_int_t)seal.first, "count",
                     (json_int_t)seal.count, "sig", sig, "events", s->events);
    return *out != NULL ? 0 : LDG_ENOMEM;
}

void
ldg_sealer_free(struct ldg_sealer *s)
{
    if (s == NULL)
        return;
    ldg_key_free(s->key);
    json_decref(s->events);
    free(s->dig);
    ldg_wipe(s->seed, sizeof s->seed);
    free(s);
}
