/*
 * key_events.c — the key commands (ldg_keys_add, _enrol, _revoke): each
 * a key file written or wiped and an event appended through the append
 * path, which they sit above.
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

/* ------------------------------------------------------ key commands -- */

/* A name a new key may take: valid, and not the log key's. */
static int
new_key_name(struct ldg_ledger *l, const char *name)
{
    if (!ldg_key_name_valid(name)) {
        ldg_seterr(l, "invalid key name '%s': use 1-%d of A-Z a-z 0-9 . _ -",
                   name ? name : "", LDG_NAME_MAX);
        return LDG_EINVAL;
    }
    if (strcmp(name, LDG_LOG_KEY_NAME) == 0) {
        ldg_seterr(l, "the name 'log' is the log key's");
        return LDG_EEXIST;
    }
    return 0;
}

/* --roles R,... as the key.added body's "roles" array (*out, the caller
 * owns it), each a known role: LDG_EINVAL naming the unknown one. */
static int
roles_array(struct ldg_ledger *l, const char *roles, json_t **out)
{
    char err[512];
    json_t *rl = json_array();

    *out = NULL;
    if (rl == NULL)
        return LDG_ENOMEM;
    if (roles != NULL) {
        size_t n = strlen(roles);
        char *dup, *save = NULL;
        /* '' or an empty name (',', 'a,,b') would make no role, and a key
         * with no roles may sign any type: a mistake, not a choice */
        if (n == 0 || roles[0] == ',' || roles[n - 1] == ',' ||
            strstr(roles, ",,") != NULL) {
            ldg_seterr(l,
                       LDG_OPT_ROLES
                       " '%.80s': an empty role name (give "
                       "roles separated by commas, or leave out " LDG_OPT_ROLES
                       " for a key that may sign any type)",
                       roles);
            json_decref(rl);
            return LDG_EINVAL;
        }
        dup = strdup(roles);
        if (dup == NULL) {
            json_decref(rl);
            return LDG_ENOMEM;
        }
        for (char *r = strtok_r(dup, ",", &save); r;
             r = strtok_r(NULL, ",", &save))
            json_array_append_new(rl, json_string(r));
        free(dup);
    }
    if (ldg_roles_check(rl, err, sizeof err) < 0) {
        const char *why = strstr(err, "unknown role");
        ldg_seterr(l, LDG_OPT_ROLES ": %s", why ? why : err);
        json_decref(rl);
        return LDG_EINVAL;
    }
    *out = rl;
    return 0;
}

int
ldg_keys_add(struct ldg_ledger *l, const char *name, const char *roles,
             uint64_t *seq_out)
{
    struct ldg_key *k = NULL;
    struct ldg_event_in in;
    char hex[65], err[512] = "", path[4300];
    json_t *body = NULL, *rl = NULL;
    int rc;

    if ((rc = new_key_name(l, name)) < 0)
        return rc;
    if ((rc = ldg_log_secret_load(l)) < 0)
        return rc;
    if ((rc = ldg_key_generate(&k, name)) < 0)
        return rc;
    /* checked before the key file is written */
    if ((rc = roles_array(l, roles, &rl)) < 0)
        goto out;
    ldg_hex(hex, k->pub, 32);
    body = json_pack("{s:s, s:s, s:s, s:o}", "key_id", k->key_id, "public_key",
                     hex, "actor", name, "roles", rl);
    if (body == NULL) {
        rc = LDG_ENOMEM;
        goto out;
    }
    rc = ldg_keyfile_write(l->dir, k, err, sizeof err);
    if (rc == LDG_EEXIST) {
        /* A key file the log never added (a keys add killed between the
         * file and the commit) is an orphan: keep it aside, go on. */
        struct ldg_txn *t;
        struct ldg_key_state ks;
        int active = 1;
        char aside[4400];
        if (ldg_txn_begin(l, LDG_TXN_READ, &t) == 0) {
            active = ldg_keys_lookup_name(t, name, &ks) == 0 &&
                     ks.revoked_seq == UINT64_MAX;
            ldg_txn_abort(t);
        }
        snprintf(path, sizeof path, "%s/keys/%s.key", l->dir, name);
        snprintf(aside, sizeof aside, "%s.orphan-%lld", path,
                 (long long)time(NULL));
        if (!active && rename(path, aside) == 0)
            rc = ldg_keyfile_write(l->dir, k, err, sizeof err);
    }
    if (rc < 0) {
        ldg_seterr(l, "%s", err[0] ? err : ldg_strerror(rc));
        goto out;
    }
    memset(&in, 0, sizeof in);
    in.type = LDG_EV_KEY_ADDED;
    in.body = body;
    rc = ldg_append(l, &in, seq_out);
    if (rc < 0) {
        /* The key was never added: its file must not linger. */
        snprintf(path, sizeof path, "%s/keys/%s.key", l->dir, name);
        unlink(path);
    }
out:
    json_decref(body);
    ldg_key_free(k);
    return rc;
}

int
ldg_keys_enrol(struct ldg_ledger *l, const char *name, const char *roles,
               const uint8_t pub[32], uint64_t *seq_out)
{
    struct ldg_event_in in;
    struct ldg_txn *t;
    struct ldg_key_state ks;
    char hex[65], id[LDG_KEYID_LEN + 1];
    json_t *body = NULL, *rl = NULL;
    int rc, fmt;

    if ((rc = new_key_name(l, name)) < 0)
        return rc;
    fmt = ldg_format(l);
    if (fmt < 2) {
        ldg_seterr(l,
                   "this ledger is format version %d: a key held by its "
                   "writer needs format version 2, where a writer seals its "
                   "events before it knows their sequence numbers",
                   fmt);
        return LDG_EVERSION;
    }
    if (!ldg_ed25519_pub_valid(pub)) {
        ldg_seterr(l, "this public key is no usable Ed25519 key (not a "
                      "point of the curve's prime-order group): no "
                      "signature could ever verify under it");
        return LDG_EBADINPUT;
    }
    ldg_key_id(id, pub);
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
        return rc;
    rc = ldg_keys_lookup_raw(t, id, &ks);
    if (rc == 0) {
        ldg_seterr(l,
                   "this public key (id %s) is already in the log as key "
                   "%s (added at event %llu%s)",
                   id, ks.name, (unsigned long long)ks.added_seq,
                   ks.revoked_seq != UINT64_MAX ? ", since revoked" : "");
        rc = LDG_EEXIST;
    } else if (rc == LDG_ENOTFOUND) {
        rc = ldg_keys_lookup_name(t, name, &ks);
        if (rc == 0 && ks.revoked_seq == UINT64_MAX) {
            ldg_seterr(l,
                       "key %s is already in the log (id %s, added at "
                       "event %llu); revoke it first to give the name a new "
                       "key",
                       name, ks.key_id, (unsigned long long)ks.added_seq);
            rc = LDG_EEXIST;
        } else if (rc == 0 || rc == LDG_ENOTFOUND) {
            rc = 0;
        }
    }
    ldg_txn_abort(t);
    if (rc < 0)
        return rc;
    if ((rc = ldg_log_secret_load(l)) < 0)
        return rc;
    if ((rc = roles_array(l, roles, &rl)) < 0)
        return rc;
    ldg_hex(hex, pub, 32);
    body = json_pack("{s:s, s:s, s:s, s:o, s:s}", "key_id", id, "public_key",
                     hex, "actor", name, "roles", rl, "held", "writer");
    if (body == NULL)
        return LDG_ENOMEM;
    memset(&in, 0, sizeof in);
    in.type = LDG_EV_KEY_ADDED;
    in.body = body;
    rc = ldg_append(l, &in, seq_out);
    json_decref(body);
    return rc;
}

/* A revoked key signs nothing more: its secret (NAME.key, and NAME.epochs
 * when it has epoch keys) is overwritten with zeros, synced and unlinked,
 * so no copy stays on disk under its name. (On a
 * copy-on-write or flash file system old blocks may survive below the
 * file system; the file is gone either way.) */
static int
wipe_keyfile(struct ldg_ledger *l, const char *name, const char *ext)
{
    char path[4300];
    uint8_t zero[512];
    struct stat st;
    int fd, rc = 0;

    snprintf(path, sizeof path, "%s/keys/%s.%s", l->dir, name, ext);
    fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : LDG_EIO;
    memset(zero, 0, sizeof zero);
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        for (off_t off = 0; off < st.st_size && rc == 0;) {
            size_t n = (size_t)(st.st_size - off) < sizeof zero
                           ? (size_t)(st.st_size - off)
                           : sizeof zero;
            ssize_t w = pwrite(fd, zero, n, off);
            if (w <= 0)
                rc = LDG_EIO;
            else
                off += w;
        }
        if (rc == 0 && fsync(fd) != 0)
            rc = LDG_EIO;
    }
    close(fd);
    if (rc == 0 && unlink(path) != 0)
        rc = LDG_EIO;
    if (rc < 0)
        ldg_seterr(l,
                   "key '%s' is revoked, but its secret key file %s could not "
                   "be wiped: %s",
                   name, path, strerror(errno));
    return rc;
}

int
ldg_keys_revoke(struct ldg_ledger *l, const char *name, const char *reason,
                uint64_t *seq_out)
{
    struct ldg_txn *t;
    struct ldg_key_state ks;
    struct ldg_event_in in;
    json_t *body;
    int rc;

    if (name == NULL || reason == NULL || *reason == '\0') {
        ldg_seterr(l, "revoking a key needs a name and a reason");
        return LDG_EINVAL;
    }
    rc = ldg_txn_begin(l, LDG_TXN_READ, &t);
    if (rc < 0)
        return rc;
    rc = ldg_keys_lookup_name(t, name, &ks);
    ldg_txn_abort(t);
    if (rc < 0) {
        ldg_seterr(l, "no key named '%s' in this ledger", name);
        return rc;
    }
    body = json_pack("{s:s, s:s}", "key_id", ks.key_id, "reason", reason);
    if (body == NULL)
        return LDG_ENOMEM;
    memset(&in, 0, sizeof in);
    in.type = LDG_EV_KEY_REVOKED;
    in.body = body;
    rc = ldg_append(l, &in, seq_out);
    json_decref(body);
    if (rc == 0)
        rc = wipe_keyfile(l, name, "key");
    /* and its epoch keys' state, whose pending secrets are of periods to
     * come (FORMAT.md 5.1) */
    if (rc == 0)
        rc = wipe_keyfile(l, name, "epochs");
    return rc;
}

int
ldg_keys_anchor(struct ldg_ledger *l, const char *name, uint64_t period_ns,
                uint64_t *seq_out)
{
    struct ldg_event_in in;
    json_t *body = NULL;
    int rc;

    if ((rc = ldg_epoch_anchor_body(l, name, period_ns, &body)) < 0)
        return rc;
    memset(&in, 0, sizeof in);
    in.type = LDG_EV_KEY_ANCHORED;
    in.body = body;
    rc = ldg_append(l, &in, seq_out);
    json_decref(body);
    return rc;
}
