/*
 * keyring.c — the signing keys a handle holds: loading them, adding and
 * revoking actor keys (the key events; the registry they derive is keys.c).
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
#include "ledger/keys_int.h"
#include "ledger/tlog_int.h"

/* -------------------------------------------------------------- keys -- */

int
ldg_log_secret_load(struct ldg_ledger *l)
{
    struct ldg_key *k;
    char err[512];
    int rc;

    if (l->log_key != NULL && l->log_key->sk != NULL)
        return 0;
    rc = ldg_keyfile_read(l->dir, LDG_LOG_KEY_NAME, &k, err, sizeof err);
    if (rc < 0) {
        ldg_seterr(l, "cannot load the log key: %s", err);
        return rc;
    }
    if (memcmp(k->pub, l->log_key->pub, 32) != 0) {
        ldg_seterr(l,
                   "key file %s/keys/log.key does not hold this ledger's "
                   "log key",
                   l->dir);
        ldg_key_free(k);
        return LDG_EKEY;
    }
    ldg_key_free(l->log_key);
    l->log_key = k;
    return 0;
}

/* Is the key named name (the newest of that name) held by its writer, as
 * its key.added says ("held": "writer")? 1 yes, 0 no or unknown; *ks gets
 * the key when found. */
static int
writer_held_name(struct ldg_ledger *l, const char *name,
                 struct ldg_key_state *ks)
{
    struct ldg_txn *t;
    int held = 0;

    if (ldg_txn_begin(l, LDG_TXN_READ, &t) < 0)
        return 0;
    if (ldg_keys_lookup_name(t, name, ks) == 0)
        held = ldg_key_writer_held(t, ks->added_seq) == 1;
    ldg_txn_abort(t);
    return held;
}

int
ldg_keys_held_by_writer(struct ldg_ledger *l, const char *name)
{
    struct ldg_key_state ks;
    if (l == NULL || name == NULL || !ldg_key_name_valid(name))
        return 0;
    return writer_held_name(l, name, &ks);
}

int
ldg_key_writer_held(struct ldg_txn *t, uint64_t added_seq)
{
    json_t *body = NULL;
    const char *held;
    int rc;

    if (added_seq == 0)
        return 0; /* the log key */
    if (added_seq < ldg_txn_horizon(t)) {
        struct ldg_horizon h;
        if ((rc = ldg_horizon_get(t, &h)) < 0)
            return rc;
        rc = 0;
        for (size_t i = 0; i < h.nkeys; i++)
            if (h.keys[i].added == added_seq)
                rc = strcmp(h.keys[i].held, "writer") == 0;
        ldg_horizon_release(&h);
        return rc;
    }
    rc = ldg_body_get(t, added_seq, &body);
    if (rc < 0)
        return rc;
    held = json_string_value(json_object_get(body, "held"));
    rc = held != NULL && strcmp(held, "writer") == 0;
    json_decref(body);
    return rc;
}

int
ldg_keys_load(struct ldg_ledger *l, const char *name, struct ldg_key **out)
{
    char err[512];
    int rc;
    struct ldg_key_state hk;

    *out = NULL;
    /* A key held by its writer never signs through the ledger, whatever
     * file lies in keys/ under its name. */
    if (name != NULL && strcmp(name, LDG_LOG_KEY_NAME) != 0 &&
        writer_held_name(l, name, &hk)) {
        ldg_seterr(l,
                   "key %s (id %s) is held by its writer: its events must "
                   "arrive sealed",
                   name, hk.key_id);
        return LDG_EKEY;
    }
    rc = ldg_keyfile_read(l->dir, name, out, err, sizeof err);
    if (rc < 0) {
        struct ldg_txn *t;
        struct ldg_key_state ks;
        /* A revoked key's secret is wiped at revocation: say so rather
         * than only "no such file". */
        char path[4300];
        snprintf(path, sizeof path, "%s/keys/%s.key", l->dir, name);
        if (access(path, F_OK) != 0 && errno == ENOENT &&
            ldg_txn_begin(l, LDG_TXN_READ, &t) == 0) {
            if (ldg_keys_lookup_name(t, name, &ks) == 0 &&
                ks.revoked_seq != UINT64_MAX)
                snprintf(err, sizeof err,
                         "key '%s' (%s) was revoked at event %llu; its secret "
                         "key file was wiped then",
                         name, ks.key_id, (unsigned long long)ks.revoked_seq);
            ldg_txn_abort(t);
        }
        ldg_seterr(l, "%s", err);
    }
    return rc;
}

/* The signing key for actor name (NULL: the log key), borrowed from the
 * handle's cache. */
int
ldg_actor_key(struct ldg_ledger *l, const char *name, struct ldg_key **out)
{
    struct ldg_key *k;
    int rc;

    if (name == NULL || strcmp(name, LDG_LOG_KEY_NAME) == 0) {
        rc = ldg_log_secret_load(l);
        *out = l->log_key;
        return rc;
    }
    for (size_t i = 0; i < l->nactors; i++) {
        if (strcmp(l->actors[i]->name, name) == 0) {
            *out = l->actors[i];
            return 0;
        }
    }
    if (l->nactors >= LDG_MAX_KEYS_CACHED) {
        ldg_seterr(l, "too many actor keys in one session");
        return LDG_EFULL;
    }
    rc = ldg_keys_load(l, name, &k);
    if (rc < 0)
        return rc;
    l->actors[l->nactors++] = k;
    *out = k;
    return 0;
}

int
ldg_log_sign_note(struct ldg_ledger *l, const char *text, size_t len,
                  char **out)
{
    int rc = ldg_log_secret_load(l);
    if (rc < 0)
        return rc;
    return ldg_note_sign(out, text, len, l->origin, l->log_key);
}

/* Signs and stores the checkpoint for the tree of size leaves. */
int
ldg_checkpoint_put(struct ldg_txn *t, uint64_t size)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    char text[LDG_ORIGIN_MAX + 128];
    uint8_t root[32], k[8];
    char *note = NULL;
    int rc, n;

    LDG_ASSERT(size >= 1); /* a commit holds one event at least */
    if ((rc = ldg_tree_root(t, size, root)) < 0)
        return rc;
    n = ldg_checkpoint_text(text, sizeof text, l->origin, size, root);
    if (n < 0)
        return n;
    rc = ldg_note_sign(&note, text, (size_t)n, l->origin, l->log_key);
    if (rc < 0)
        return rc;
    /* the live epoch key's line beside the log key's (FORMAT.md 5.1) */
    if ((rc = ldg_epoch_checkpoint_line(t, text, (size_t)n, &note)) < 0) {
        free(note);
        return rc;
    }
    ldg_be64(k, size);
    rc = ldg_core_kv_put(t, ldg_core(l, LDG_DB_CHECKPOINTS), k, LDG_SEQ_KEY_LEN,
                         note, strlen(note));
    free(note);
    return rc;
}
