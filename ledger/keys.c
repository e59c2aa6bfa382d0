/*
 * keys.c — secret key files and the key registry.
 *
 * Secret keys never enter LMDB. Each lives in DIR/keys/NAME.key:
 *
 *   ledger-secret-key v1\n
 *   name NAME\n
 *   seed <64 lowercase hex digits>\n
 *
 * mode 0600 in a 0700 directory; anything looser is refused. The file is
 * read into sodium_malloc'd memory and wiped after use.
 *
 * The registry ("keys" database) is derived from ledger.genesis, key.added
 * and key.revoked, in the same transaction as those events:
 *
 *   "id:" key_id[16]  ->  pub[32] ‖ added_seq be64 ‖ revoked_seq be64 ‖ name
 *   "name:" name      ->  key_id[16]   (the newest key of that name)
 *
 * ledger verify does not trust it: it rebuilds key state from the events.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ledger/epoch_int.h"
#include "ledger/keys_int.h"

#define KEYFILE_MAGIC "ledger-secret-key v1\n"
#define KEYFILE_MAX 512

static int
key_path(char *buf, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(buf, cap, "%s/keys/%s.key", dir, name);
    return n > 0 && (size_t)n < cap ? 0 : LDG_EINVAL;
}

/* Writes k's key file at path (which must not exist): through a
 * temporary file in the same directory, synced, linked to path (never
 * replacing what is there), the directory synced. */
static int
keyfile_write_at(const char *path, const char *dirpath, const struct ldg_key *k,
                 char *err, size_t errcap)
{
    char tmp[4400];
    char *text = NULL;
    uint8_t seed[32];
    char hex[65];
    int fd = -1, rc = LDG_EIO, n;
    const size_t cap = KEYFILE_MAX;

    struct stat st;

    if (lstat(path, &st) == 0) {
        snprintf(err, errcap, "key file %s already exists", path);
        return LDG_EEXIST;
    }
    if (snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >=
        (int)sizeof tmp)
        return LDG_EINVAL;
    text = ldg_secure_alloc(cap);
    if (text == NULL)
        return LDG_ENOMEM;
    if ((rc = ldg_key_seed(k, seed)) < 0)
        goto out;
    ldg_hex(hex, seed, 32);
    n = snprintf(text, cap, KEYFILE_MAGIC "name %s\nseed %s\n", k->name, hex);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) { /* (named as asked: the temporary name is ours) */
        snprintf(err, errcap, "cannot create %s: %s", path, strerror(errno));
        rc = LDG_EIO;
        goto out;
    }
    if (write(fd, text, (size_t)n) != n || fsync(fd) != 0) {
        snprintf(err, errcap, "cannot write %s: %s", tmp, strerror(errno));
        rc = LDG_EIO;
        goto out;
    }
    close(fd);
    fd = -1;
    /* link(2), not rename(2): a file that appeared at path meanwhile is
     * never replaced */
    if (link(tmp, path) != 0) {
        if (errno == EEXIST) {
            snprintf(err, errcap, "key file %s already exists", path);
            rc = LDG_EEXIST;
        } else {
            snprintf(err, errcap, "cannot create %s: %s", path,
                     strerror(errno));
            rc = LDG_EIO;
        }
        goto out;
    }
    unlink(tmp);
    fd = open(dirpath, O_RDONLY | O_DIRECTORY);
    if (fd >= 0)
        fsync(fd);
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (rc < 0)
        unlink(tmp);
    ldg_wipe(seed, sizeof seed);
    ldg_wipe(hex, sizeof hex);
    ldg_secure_free(text);
    return rc;
}

int
ldg_keyfile_write(const char *dir, const struct ldg_key *k, char *err,
                  size_t errcap)
{
    char kdir[4200], path[4300];

    snprintf(kdir, sizeof kdir, "%s/keys", dir);
    if (mkdir(kdir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errcap, "cannot create %s: %s", kdir, strerror(errno));
        return LDG_EIO;
    }
    if (key_path(path, sizeof path, dir, k->name) < 0)
        return LDG_EINVAL;
    return keyfile_write_at(path, kdir, k, err, errcap);
}

int
ldg_keyfile_save(const char *path, const struct ldg_key *k, char *err,
                 size_t errcap)
{
    char dirpath[4300];
    const char *slash;

    if (errcap > 0)
        err[0] = '\0';
    if (path == NULL || *path == '\0' || strlen(path) >= 4096) {
        snprintf(err, errcap, "no key file name given");
        return LDG_EINVAL;
    }
    slash = strrchr(path, '/');
    if (slash == NULL)
        snprintf(dirpath, sizeof dirpath, ".");
    else if (slash == path)
        snprintf(dirpath, sizeof dirpath, "/");
    else
        snprintf(dirpath, sizeof dirpath, "%.*s", (int)(slash - path), path);
    return keyfile_write_at(path, dirpath, k, err, errcap);
}

/* A process about to hold a secret key writes no core file and cannot be
 * attached to or read through /proc by other processes of the same user.
 * The secrets already live in sodium_malloc memory excluded from cores;
 * this is defence in depth, done once per process. */
static void
harden_process(void)
{
    static int done;
    struct rlimit rl = {0, 0};
    if (done)
        return;
    done = 1;
    setrlimit(RLIMIT_CORE, &rl);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* Reads the key file at path: a regular file of this user's, 0600, one
 * link. name: the name it must hold, or NULL for any valid one. */
static int
keyfile_read_at(const char *path, const char *name, struct ldg_key **out,
                char *err, size_t errcap)
{
    struct stat st;
    char *text = NULL;
    uint8_t *seed = NULL;
    const char *p;
    char want[LDG_NAME_MAX + 16], fname[LDG_NAME_MAX + 1];
    ssize_t got;
    int fd = -1, rc = LDG_EKEY;

    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (name != NULL)
            snprintf(err, errcap, "no key '%s' (%s: %s)", name, path,
                     strerror(errno));
        else
            snprintf(err, errcap, "cannot open key file %s: %s", path,
                     strerror(errno));
        return errno == ENOENT && name == NULL ? LDG_ENOTFOUND : LDG_EKEY;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errcap, "key file %s is not a regular file", path);
        goto out;
    }
    if ((st.st_mode & 077) != 0) {
        snprintf(err, errcap,
                 "key file %s has mode %04o; it must be 0600 (chmod 600 %s)",
                 path, (unsigned)(st.st_mode & 07777), path);
        goto out;
    }
    if (st.st_uid != geteuid()) {
        snprintf(err, errcap,
                 "key file %s is owned by uid %u, not by this user (uid %u)",
                 path, (unsigned)st.st_uid, (unsigned)geteuid());
        goto out;
    }
    if (st.st_nlink != 1) {
        /* another name for the same secret, maybe somewhere readable */
        snprintf(err, errcap,
                 "key file %s has %lu hard links; a key file must have one",
                 path, (unsigned long)st.st_nlink);
        goto out;
    }
    harden_process();
    text = ldg_secure_alloc(KEYFILE_MAX + 1);
    seed = ldg_secure_alloc(32);
    if (text == NULL || seed == NULL) {
        snprintf(err, errcap, "key file %s: out of memory", path);
        rc = LDG_ENOMEM;
        goto out;
    }
    got = read(fd, text, KEYFILE_MAX);
    if (got <= 0) {
        snprintf(err, errcap, "cannot read key file %s", path);
        goto out;
    }
    text[got] = '\0';
    if (name == NULL) {
        /* any valid name: the file's */
        const char *nl, *np = text + strlen(KEYFILE_MAGIC);
        if (strncmp(text, KEYFILE_MAGIC, strlen(KEYFILE_MAGIC)) != 0 ||
            strncmp(np, "name ", 5) != 0 ||
            (nl = strchr(np + 5, '\n')) == NULL ||
            (size_t)(nl - np - 5) > LDG_NAME_MAX) {
            snprintf(err, errcap,
                     "key file %s is not a ledger secret key "
                     "(it must start with 'ledger-secret-key v1')",
                     path);
            goto out;
        }
        memcpy(fname, np + 5, (size_t)(nl - np - 5));
        fname[nl - np - 5] = '\0';
        if (!ldg_key_name_valid(fname)) {
            snprintf(err, errcap, "key file %s: invalid key name", path);
            goto out;
        }
        name = fname;
    }
    snprintf(want, sizeof want, "name %s\nseed ", name);
    if (strncmp(text, KEYFILE_MAGIC, strlen(KEYFILE_MAGIC)) != 0 ||
        strncmp(text + strlen(KEYFILE_MAGIC), want, strlen(want)) != 0) {
        snprintf(err, errcap, "key file %s is not a ledger key named '%s'",
                 path, name);
        goto out;
    }
    p = text + strlen(KEYFILE_MAGIC) + strlen(want);
    /* got, not strlen: a NUL byte must not hide what follows it */
    if ((size_t)got != (size_t)(p - text) + 65 || p[64] != '\n' ||
        memchr(text, '\0', (size_t)got) != NULL) {
        snprintf(err, errcap, "key file %s: malformed seed line", path);
        goto out;
    }
    {
        char hex[65];
        memcpy(hex, p, 64);
        hex[64] = '\0';
        rc = ldg_unhex(seed, 32, hex);
        ldg_wipe(hex, sizeof hex);
    }
    if (rc < 0) {
        snprintf(err, errcap, "key file %s: malformed seed", path);
        rc = LDG_EKEY;
        goto out;
    }
    rc = ldg_key_from_seed(out, name, seed);
    if (rc < 0)
        snprintf(err, errcap, "key file %s: %s", path, ldg_strerror(rc));
out:
    if (fd >= 0)
        close(fd);
    ldg_secure_free(text);
    ldg_secure_free(seed);
    return rc;
}

int
ldg_keyfile_read(const char *dir, const char *name, struct ldg_key **out,
                 char *err, size_t errcap)
{
    char kdir[4200], path[4300];
    struct stat st;

    *out = NULL;
    if (errcap > 0)
        err[0] = '\0';
    if (!ldg_key_name_valid(name)) {
        snprintf(err, errcap, "invalid key name '%s'", name);
        return LDG_EINVAL;
    }
    snprintf(kdir, sizeof kdir, "%s/keys", dir);
    if (key_path(path, sizeof path, dir, name) < 0)
        return LDG_EINVAL;
    /* The ledger directory: whoever may write it may swap keys/ itself. */
    if (stat(dir, &st) != 0) {
        snprintf(err, errcap, "no ledger directory %s: %s", dir,
                 strerror(errno));
        return LDG_EKEY;
    }
    if ((st.st_mode & 022) != 0) {
        snprintf(err, errcap,
                 "ledger directory %s has mode %04o; others may replace its "
                 "keys (chmod 700 %s)",
                 dir, (unsigned)(st.st_mode & 07777), dir);
        return LDG_EKEY;
    }
    if (st.st_uid != geteuid()) {
        snprintf(err, errcap,
                 "ledger directory %s is owned by uid %u, not by this user "
                 "(uid %u)",
                 dir, (unsigned)st.st_uid, (unsigned)geteuid());
        return LDG_EKEY;
    }
    if (lstat(kdir, &st) != 0) {
        snprintf(err, errcap, "no key directory %s: %s", kdir, strerror(errno));
        return LDG_EKEY;
    }
    if (S_ISLNK(st.st_mode) || !S_ISDIR(st.st_mode)) {
        snprintf(err, errcap,
                 "key directory %s is %s; it must be a directory of its own",
                 kdir,
                 S_ISLNK(st.st_mode) ? "a symbolic link" : "not a directory");
        return LDG_EKEY;
    }
    if (st.st_uid != geteuid()) {
        snprintf(err, errcap,
                 "key directory %s is owned by uid %u, not by this user "
                 "(uid %u)",
                 kdir, (unsigned)st.st_uid, (unsigned)geteuid());
        return LDG_EKEY;
    }
    if ((st.st_mode & 077) != 0) {
        snprintf(err, errcap,
                 "key directory %s has mode %04o; it must be 0700 "
                 "(chmod 700 %s)",
                 kdir, (unsigned)(st.st_mode & 07777), kdir);
        return LDG_EKEY;
    }
    return keyfile_read_at(path, name, out, err, errcap);
}

int
ldg_keyfile_load(const char *path, struct ldg_key **out, char *err,
                 size_t errcap)
{
    *out = NULL;
    if (errcap > 0)
        err[0] = '\0';
    if (path == NULL || *path == '\0') {
        snprintf(err, errcap, "no key file name given");
        return LDG_EINVAL;
    }
    return keyfile_read_at(path, NULL, out, err, errcap);
}

/* ---------------------------------------------------------- registry -- */

static int
rec_decode(const struct ldg_val *v, const char *key_id,
           struct ldg_key_state *ks)
{
    size_t nl;
    if (v->len < LDG_KEYREC_NAME || v->len > LDG_KEYREC_NAME + LDG_NAME_MAX)
        return LDG_ECORRUPT;
    memset(ks, 0, sizeof *ks);
    memcpy(ks->key_id, key_id, LDG_KEYID_LEN);
    memcpy(ks->pub, (const uint8_t *)v->data + LDG_KEYREC_PUB, 32);
    ks->added_seq = ldg_rd_be64((const uint8_t *)v->data + LDG_KEYREC_ADDED);
    ks->revoked_seq =
        ldg_rd_be64((const uint8_t *)v->data + LDG_KEYREC_REVOKED);
    nl = v->len - LDG_KEYREC_NAME;
    memcpy(ks->name, (const uint8_t *)v->data + LDG_KEYREC_NAME, nl);
    ks->name[nl] = '\0';
    return 0;
}

static int
rec_put(struct ldg_txn *t, const struct ldg_key_state *ks)
{
    ldg_dbi db = ldg_store_core_dbi(ldg_txn_store(t), LDG_DB_KEYS);
    uint8_t k[LDG_KEYS_ID_LEN + LDG_KEYID_LEN],
        v[LDG_KEYREC_NAME + LDG_NAME_MAX];
    uint8_t nk[LDG_KEYS_NAME_LEN + LDG_NAME_MAX];
    size_t nl = strlen(ks->name);
    int rc;

    memcpy(k, LDG_KEYS_ID, LDG_KEYS_ID_LEN);
    memcpy(k + LDG_KEYS_ID_LEN, ks->key_id, LDG_KEYID_LEN);
    memcpy(v + LDG_KEYREC_PUB, ks->pub, 32);
    ldg_be64(v + LDG_KEYREC_ADDED, ks->added_seq);
    ldg_be64(v + LDG_KEYREC_REVOKED, ks->revoked_seq);
    memcpy(v + LDG_KEYREC_NAME, ks->name, nl);
    rc = ldg_core_kv_put(t, db, k, sizeof k, v, LDG_KEYREC_NAME + nl);
    if (rc < 0)
        return rc;
    memcpy(nk, LDG_KEYS_NAME, LDG_KEYS_NAME_LEN);
    memcpy(nk + LDG_KEYS_NAME_LEN, ks->name, nl);
    return ldg_core_kv_put(t, db, nk, LDG_KEYS_NAME_LEN + nl, ks->key_id,
                           LDG_KEYID_LEN);
}

/*
 * The key registry is derived from the key events; append must trust only
 * what the log proves, so a registry record is checked against the events
 * it names before it is used (a tampered registry must neither refuse a
 * valid key nor accept a wrong one):
 *   - added_seq holds the genesis (the log key) or a key.added, by the log
 *     key, naming this public key and name; proven once per handle;
 *   - revoked_seq, if set, holds a key.revoked by the log key naming it;
 *   - no key.revoked found through the type index names it at another seq
 *     (a revocation the record hides). Revocations are few; this walk is
 *     one seek and one body a revocation.
 * The entries themselves are ledger verify's to check.
 */
static int
record_event_body(struct ldg_txn *t, uint64_t seq, const char *type,
                  json_t **body)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_event ev;
    int rc = ldg_event_get_ex(t, seq, &ev, LDG_DECODE_TRUSTED);

    *body = NULL;
    if (rc < 0)
        return rc == LDG_ENOTFOUND ? LDG_ETAMPER : rc;
    if (ev.seq != seq || strcmp(ev.type, type) != 0 ||
        strcmp(ev.actor, l->log_key->key_id) != 0)
        return LDG_ETAMPER;
    rc = ldg_body_get(t, seq, body);
    return rc == LDG_EERASED || rc == LDG_ENOTFOUND ? LDG_ETAMPER : rc;
}

/* Same registry record (roles aside: they come from the event). */
static int
same_record(const struct ldg_key_state *a, const struct ldg_key_state *b)
{
    return strcmp(a->key_id, b->key_id) == 0 && strcmp(a->name, b->name) == 0 &&
           memcmp(a->pub, b->pub, 32) == 0 && a->added_seq == b->added_seq &&
           a->revoked_seq == b->revoked_seq;
}

/* A key's roles mask from their comma-separated names ("*": every type,
 * the log key's; "": none given). */
uint32_t
ldg_horizon_roles_mask(const char *text)
{
    json_t *a;
    uint32_t m;
    char buf[LDG_HORIZON_ROLES_MAX], *save = NULL;

    if (strcmp(text, "*") == 0)
        return UINT32_MAX;
    if ((a = json_array()) == NULL)
        return 0;
    snprintf(buf, sizeof buf, "%s", text);
    for (char *r = strtok_r(buf, ",", &save); r != NULL;
         r = strtok_r(NULL, ",", &save))
        json_array_append_new(a, json_string(r));
    m = ldg_roles_mask(a);
    json_decref(a);
    return m;
}

/* A key added before the horizon: its key.added was pruned, and the
 * horizon record, signed by the log key, says what it was. */
static int
prove_by_horizon(struct ldg_txn *t, struct ldg_key_state *ks)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_horizon h;
    const struct ldg_horizon_key *hk;
    int rc = ldg_horizon_get(t, &h);

    if (rc < 0)
        return rc == LDG_ENOTFOUND ? LDG_ETAMPER : rc;
    hk = ldg_horizon_key_find(&h, ks->key_id);
    if (ldg_horizon_check_sig(&h, l->log_key->pub) != 0 || hk == NULL ||
        memcmp(hk->pub, ks->pub, 32) != 0 || strcmp(hk->name, ks->name) != 0 ||
        hk->added != ks->added_seq ||
        (hk->revoked != UINT64_MAX && hk->revoked != ks->revoked_seq))
        rc = LDG_ETAMPER;
    else
        ks->roles = ldg_horizon_roles_mask(hk->roles);
    ldg_horizon_release(&h);
    return rc;
}

/* Proves the record's addition and sets ks->roles from the event that
 * added it (the genesis' log key: every type). */
static int
prove_added(struct ldg_txn *t, struct ldg_key_state *ks)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    json_t *body = NULL;
    const char *hex, *name;
    uint8_t pub[32];
    int rc, hit = 0;

    pthread_mutex_lock(&l->keys_mu);
    for (size_t i = 0; i < l->nkproven && !hit; i++)
        if ((hit = same_record(&l->kproven[i], ks)))
            ks->roles = l->kproven[i].roles;
    pthread_mutex_unlock(&l->keys_mu);
    if (hit)
        return 0;
    if (ks->added_seq < ldg_txn_horizon(t))
        return prove_by_horizon(t, ks);
    if (ks->added_seq == 0) {
        rc = record_event_body(t, 0, LDG_EV_LEDGER_GENESIS, &body);
        hex = json_string_value(json_object_get(body, "log_key"));
        name = LDG_LOG_KEY_NAME;
        ks->roles = UINT32_MAX;
    } else {
        rc = record_event_body(t, ks->added_seq, LDG_EV_KEY_ADDED, &body);
        hex = json_string_value(json_object_get(body, "public_key"));
        name = json_string_value(json_object_get(body, "actor"));
        ks->roles = ldg_roles_mask(json_object_get(body, "roles"));
    }
    if (rc == 0 && (hex == NULL || ldg_unhex(pub, 32, hex) < 0 ||
                    memcmp(pub, ks->pub, 32) != 0 || name == NULL ||
                    strcmp(name, ks->name) != 0))
        rc = LDG_ETAMPER;
    json_decref(body);
    if (rc == 0 && ks->revoked_seq == UINT64_MAX) {
        /* what is cached: the addition of a key not (yet) revoked */
        pthread_mutex_lock(&l->keys_mu);
        if (l->nkproven < LDG_MAX_KEYS_CACHED)
            l->kproven[l->nkproven++] = *ks;
        pthread_mutex_unlock(&l->keys_mu);
    }
    return rc;
}

/* An earlier key.revoked of the same key (a revocation is recorded
 * once): LDG_ETAMPER. */
struct revoked_ctx {
    struct ldg_txn *t;
    const struct ldg_key_state *ks;
};

static int
revoked_before(void *arg, uint64_t seq)
{
    struct revoked_ctx *x = arg;
    json_t *body = NULL;
    const char *id;
    int rc = 0;
    if (ldg_body_get(x->t, seq, &body) < 0)
        return 0;
    id = json_string_value(json_object_get(body, "key_id"));
    if (id != NULL && strcmp(id, x->ks->key_id) == 0)
        rc = LDG_ETAMPER;
    json_decref(body);
    return rc;
}

static int
prove_revocation(struct ldg_txn *t, const struct ldg_key_state *ks)
{
    struct revoked_ctx x = {t, ks};
    json_t *body = NULL;
    int rc;

    if (ks->revoked_seq != UINT64_MAX && ks->revoked_seq < ldg_txn_horizon(t))
        return 0; /* pruned: prove_by_horizon held it to the record */
    if (ks->revoked_seq != UINT64_MAX) {
        const char *id;
        rc = record_event_body(t, ks->revoked_seq, LDG_EV_KEY_REVOKED, &body);
        id = json_string_value(json_object_get(body, "key_id"));
        if (rc == 0 && (id == NULL || strcmp(id, ks->key_id) != 0))
            rc = LDG_ETAMPER;
        json_decref(body);
        if (rc < 0)
            return rc;
    }
    if (ks->revoked_seq == 0)
        return 0;
    /* the record's own, or later ones: irrelevant */
    return ldg_index_walk(t, LDG_INDEX_TYPE, LDG_EV_KEY_REVOKED, 0,
                          ks->revoked_seq - 1, 0, revoked_before, &x);
}

int
ldg_keys_lookup(struct ldg_txn *t, const char *key_id, struct ldg_key_state *ks)
{
    int rc = ldg_keys_lookup_raw(t, key_id, ks);

    if (rc == 0)
        rc = prove_added(t, ks);
    if (rc == 0)
        rc = prove_revocation(t, ks);
    if (rc == LDG_ETAMPER)
        ldg_seterr(ldg_txn_ledger(t),
                   "the key registry's record of key %s is not what the "
                   "log's key events say (run " LDG_CMD_VERIFY_FULL ")",
                   key_id);
    return ldg_counted(rc);
}

int
ldg_keys_lookup_raw(struct ldg_txn *t, const char *key_id,
                    struct ldg_key_state *ks)
{
    ldg_dbi db = ldg_store_core_dbi(ldg_txn_store(t), LDG_DB_KEYS);
    uint8_t k[LDG_KEYS_ID_LEN + LDG_KEYID_LEN];
    struct ldg_val v;
    int rc;

    if (strlen(key_id) != LDG_KEYID_LEN)
        return LDG_ENOTFOUND;
    memcpy(k, LDG_KEYS_ID, LDG_KEYS_ID_LEN);
    memcpy(k + LDG_KEYS_ID_LEN, key_id, LDG_KEYID_LEN);
    rc = ldg_kv_get(t, db, k, sizeof k, &v);
    if (rc < 0)
        return rc;
    return rec_decode(&v, key_id, ks);
}

/* "sealed:" key_id -> u64be: events the key's seals cover (format 2). */
static void
sealed_key(uint8_t k[7 + LDG_KEYID_LEN], const char *key_id)
{
    memcpy(k, "sealed:", 7);
    memcpy(k + 7, key_id, LDG_KEYID_LEN);
}

int
ldg_key_sealed(struct ldg_txn *t, const char *key_id, uint64_t *n)
{
    ldg_dbi db;
    uint8_t k[7 + LDG_KEYID_LEN];
    struct ldg_val v;
    int rc;

    if (t == NULL || key_id == NULL || n == NULL ||
        strlen(key_id) != LDG_KEYID_LEN)
        return LDG_EINVAL;
    db = ldg_store_core_dbi(ldg_txn_store(t), LDG_DB_KEYS);
    sealed_key(k, key_id);
    *n = 0;
    rc = ldg_kv_get(t, db, k, sizeof k, &v);
    if (rc == LDG_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    if (v.len != 8)
        return LDG_ECORRUPT;
    *n = ldg_rd_be64(v.data);
    return 0;
}

int
ldg_keys_sealed_put(struct ldg_txn *t, const char *key_id, uint64_t n)
{
    uint8_t k[7 + LDG_KEYID_LEN], v[8];
    sealed_key(k, key_id);
    ldg_be64(v, n);
    return ldg_core_kv_put(t, ldg_store_core_dbi(ldg_txn_store(t), LDG_DB_KEYS),
                           k, sizeof k, v, 8);
}

int
ldg_keys_lookup_name(struct ldg_txn *t, const char *name,
                     struct ldg_key_state *ks)
{
    ldg_dbi db = ldg_store_core_dbi(ldg_txn_store(t), LDG_DB_KEYS);
    uint8_t nk[LDG_KEYS_NAME_LEN + LDG_NAME_MAX];
    char id[LDG_KEYID_LEN + 1];
    size_t nl = strlen(name);
    struct ldg_val v;
    int rc;

    if (nl == 0 || nl > LDG_NAME_MAX)
        return LDG_ENOTFOUND;
    memcpy(nk, LDG_KEYS_NAME, LDG_KEYS_NAME_LEN);
    memcpy(nk + LDG_KEYS_NAME_LEN, name, nl);
    rc = ldg_kv_get(t, db, nk, LDG_KEYS_NAME_LEN + nl, &v);
    if (rc < 0)
        return rc;
    if (v.len != LDG_KEYID_LEN)
        return LDG_ECORRUPT;
    memcpy(id, v.data, LDG_KEYID_LEN);
    id[LDG_KEYID_LEN] = '\0';
    return ldg_keys_lookup(t, id, ks);
}

/* Registry update for one event; a no-op for other types. */
int
ldg_keys_apply(struct ldg_txn *t, const struct ldg_event *ev,
               const json_t *body)
{
    struct ldg_key_state ks;
    const char *hex;
    int rc;

    memset(&ks, 0, sizeof ks);
    if (strcmp(ev->type, LDG_EV_LEDGER_GENESIS) == 0) {
        hex = json_string_value(json_object_get(body, "log_key"));
        if (hex == NULL || ldg_unhex(ks.pub, 32, hex) < 0)
            return LDG_EBADINPUT;
        ldg_key_id(ks.key_id, ks.pub);
        snprintf(ks.name, sizeof ks.name, "%s", LDG_LOG_KEY_NAME);
        ks.added_seq = ev->seq;
        ks.revoked_seq = UINT64_MAX;
        return rec_put(t, &ks);
    }
    if (strcmp(ev->type, LDG_EV_KEY_ADDED) == 0) {
        const char *name = json_string_value(json_object_get(body, "actor"));
        hex = json_string_value(json_object_get(body, "public_key"));
        if (hex == NULL || ldg_unhex(ks.pub, 32, hex) < 0 || name == NULL ||
            !ldg_key_name_valid(name))
            return LDG_EBADINPUT;
        ldg_key_id(ks.key_id, ks.pub);
        snprintf(ks.name, sizeof ks.name, "%s", name);
        ks.added_seq = ev->seq;
        ks.revoked_seq = UINT64_MAX;
        return rec_put(t, &ks);
    }
    if (strcmp(ev->type, LDG_EV_KEY_ANCHORED) == 0)
        return ldg_epoch_anchor_apply(t, ev, body);
    if (strcmp(ev->type, LDG_EV_KEY_REVOKED) == 0) {
        const char *id = json_string_value(json_object_get(body, "key_id"));
        if (id == NULL)
            return LDG_EBADINPUT;
        /* raw: this very revocation is already in the type index */
        rc = ldg_keys_lookup_raw(t, id, &ks);
        if (rc < 0)
            return rc;
        if (ks.revoked_seq == UINT64_MAX)
            ks.revoked_seq = ev->seq;
        return rec_put(t, &ks);
    }
    return 0;
}

static const struct ldg_key_state *
proven_find(const struct ldg_key_state *p, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(p[i].key_id, id) == 0)
            return &p[i];
    return NULL;
}

static void
seq_text(char out[24], uint64_t seq)
{
    if (seq == UINT64_MAX)
        snprintf(out, 24, "never");
    else
        snprintf(out, 24, "%llu", (unsigned long long)seq);
}

int
ldg_keys_registry_check(struct ldg_txn *t, const struct ldg_key_state *p,
                        size_t n, uint64_t *seq, char *why, size_t cap)
{
    ldg_dbi db = ldg_store_core_dbi(ldg_txn_store(t), LDG_DB_KEYS);
    struct ldg_cursor *c = NULL;
    struct ldg_val k, v;
    size_t nid = 0;
    int rc;

    *seq = UINT64_MAX;
    if ((rc = ldg_cursor_open(t, db, &c)) < 0)
        return rc;
    for (rc = ldg_cursor_get(c, LDG_FIRST, NULL, 0, &k, &v); rc == 0;
         rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v)) {
        const struct ldg_key_state *want;
        struct ldg_key_state ks;
        char id[LDG_KEYID_LEN + 1], eid[LDG_KEYID_LEN + 1], a[24], b[24];
        if (k.len == LDG_KEYS_ID_LEN + LDG_KEYID_LEN &&
            memcmp(k.data, LDG_KEYS_ID, LDG_KEYS_ID_LEN) == 0) {
            memcpy(id, (const char *)k.data + LDG_KEYS_ID_LEN, LDG_KEYID_LEN);
            id[LDG_KEYID_LEN] = '\0';
            want = proven_find(p, n, id);
            nid++;
            if (want == NULL || rec_decode(&v, id, &ks) < 0) {
                snprintf(why, cap,
                         "the key registry holds key %s, which no key event "
                         "of the log adds (or its record is malformed)",
                         id);
                *seq = want ? want->added_seq : UINT64_MAX;
                rc = LDG_ETAMPER;
                break;
            }
            if (memcmp(ks.pub, want->pub, 32) != 0 ||
                strcmp(ks.name, want->name) != 0 ||
                ks.added_seq != want->added_seq ||
                ks.revoked_seq != want->revoked_seq) {
                seq_text(a, ks.revoked_seq);
                seq_text(b, want->revoked_seq);
                snprintf(why, cap,
                         "the key registry's record of key %s (%s) is not "
                         "what the log's key events say (public key, name, "
                         "added at %llu, revoked %s; the log: %s, added at "
                         "%llu, revoked %s)",
                         id, ks.name, (unsigned long long)ks.added_seq, a,
                         want->name, (unsigned long long)want->added_seq, b);
                *seq = want->revoked_seq != UINT64_MAX &&
                               ks.revoked_seq != want->revoked_seq
                           ? want->revoked_seq
                           : want->added_seq;
                rc = LDG_ETAMPER;
                break;
            }
        } else if (k.len > LDG_KEYS_NAME_LEN &&
                   k.len <= LDG_KEYS_NAME_LEN + LDG_NAME_MAX &&
                   memcmp(k.data, LDG_KEYS_NAME, LDG_KEYS_NAME_LEN) == 0) {
            const struct ldg_key_state *newest = NULL;
            size_t nl = k.len - LDG_KEYS_NAME_LEN;
            for (size_t i = 0; i < n; i++)
                if (strlen(p[i].name) == nl &&
                    memcmp(p[i].name, (const char *)k.data + LDG_KEYS_NAME_LEN,
                           nl) == 0 &&
                    (newest == NULL || p[i].added_seq > newest->added_seq))
                    newest = &p[i];
            if (newest == NULL || v.len != LDG_KEYID_LEN ||
                memcmp(v.data, newest->key_id, LDG_KEYID_LEN) != 0) {
                snprintf(why, cap,
                         "the key registry's name %.*s does not point at the "
                         "newest key of that name the log added",
                         (int)nl, (const char *)k.data + LDG_KEYS_NAME_LEN);
                *seq = newest ? newest->added_seq : UINT64_MAX;
                rc = LDG_ETAMPER;
                break;
            }
        } else if (k.len == 7 + LDG_KEYID_LEN &&
                   memcmp(k.data, "sealed:", 7) == 0 && v.len == 8) {
            /* a key's sealed count (format 2): ledger verify compares
             * it with the seals it counted */
            char sid[LDG_KEYID_LEN + 1];
            memcpy(sid, (const char *)k.data + 7, LDG_KEYID_LEN);
            sid[LDG_KEYID_LEN] = '\0';
            if (proven_find(p, n, sid) == NULL) {
                snprintf(why, cap,
                         "the key registry counts sealed events of key %s, "
                         "which no key event of the log adds",
                         sid);
                *seq = UINT64_MAX;
                rc = LDG_ETAMPER;
                break;
            }
        } else if (ldg_epoch_rec_ok(k.data, k.len, v.len, eid)) {
            /* a key's anchor and the epoch its seals carry last */
            if (proven_find(p, n, eid) == NULL) {
                snprintf(why, cap,
                         "the key registry holds an epoch anchor of key %s, "
                         "which no key event of the log adds",
                         eid);
                *seq = UINT64_MAX;
                rc = LDG_ETAMPER;
                break;
            }
        } else {
            snprintf(why, cap, "the key registry holds a record it should not");
            *seq = UINT64_MAX;
            rc = LDG_ETAMPER;
            break;
        }
    }
    ldg_cursor_close(c);
    if (rc == LDG_ENOTFOUND)
        rc = 0;
    if (rc == 0 && nid != n) {
        for (size_t i = 0; i < n; i++) {
            struct ldg_key_state ks;
            int lrc = ldg_keys_lookup_raw(t, p[i].key_id, &ks);
            if (ldg_rc_machine(lrc)) {
                rc = lrc;
                break;
            }
            if (lrc < 0) {
                snprintf(why, cap,
                         "the key registry lacks key %s (%s), which the log "
                         "added",
                         p[i].key_id, p[i].name);
                *seq = p[i].added_seq;
                break;
            }
        }
        if (rc == 0)
            rc = LDG_ETAMPER;
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct ldg_key_state ks;
        int newest = 1;
        for (size_t j = 0; j < n; j++)
            if (strcmp(p[j].name, p[i].name) == 0 &&
                p[j].added_seq > p[i].added_seq)
                newest = 0;
        int lrc = newest ? ldg_keys_lookup_name(t, p[i].name, &ks) : 0;
        if (ldg_rc_machine(lrc)) {
            rc = lrc; /* the machine's: no finding */
            break;
        }
        if (newest && (lrc < 0 || strcmp(ks.key_id, p[i].key_id) != 0)) {
            snprintf(why, cap,
                     "the key registry does not name key %s (%s), the "
                     "newest of that name the log added",
                     p[i].key_id, p[i].name);
            *seq = p[i].added_seq;
            rc = LDG_ETAMPER;
        }
    }
    return rc;
}

static int
cmp_added(const void *a, const void *b)
{
    const struct ldg_keyinfo *x = a, *y = b;
    return x->added_seq < y->added_seq ? -1 : x->added_seq > y->added_seq;
}

void
ldg_keys_roles_text(struct ldg_txn *t, const struct ldg_key_state *ks,
                    char *buf, size_t cap)
{
    json_t *body = NULL;
    const json_t *v;
    size_t i, len = 0;

    buf[0] = '\0';
    if (ks->added_seq == 0) {
        snprintf(buf, cap, "*");
        return;
    }
    if (ks->added_seq < ldg_txn_horizon(t)) {
        struct ldg_horizon h;
        const struct ldg_horizon_key *hk;
        if (ldg_horizon_get(t, &h) == 0 &&
            (hk = ldg_horizon_key_find(&h, ks->key_id)) != NULL)
            snprintf(buf, cap, "%s", hk->roles);
        ldg_horizon_release(&h);
        return;
    }
    if (ldg_body_get(t, ks->added_seq, &body) < 0)
        return; /* proven just before: the body is there */
    json_array_foreach(json_object_get(body, "roles"), i, v)
    {
        int n = snprintf(buf + len, cap - len, "%s%s", i ? "," : "",
                         json_string_value(v) ? json_string_value(v) : "?");
        if (n < 0 || (size_t)n >= cap - len)
            break;
        len += (size_t)n;
    }
    json_decref(body);
}

int
ldg_keys_list(struct ldg_ledger *l, struct ldg_keyinfo **out, size_t *n)
{
    struct ldg_txn *t = NULL;
    struct ldg_cursor *c = NULL;
    struct ldg_val k, v;
    struct ldg_keyinfo *arr = NULL;
    size_t cnt = 0, cap = 0;
    int rc;

    *out = NULL;
    *n = 0;
    rc = ldg_txn_begin(l, LDG_TXN_READ, &t);
    if (rc < 0)
        return rc;
    rc = ldg_cursor_open(t, ldg_store_core_dbi(l->store, LDG_DB_KEYS), &c);
    if (rc < 0)
        goto out;
    for (rc = ldg_cursor_get(c, LDG_SET_RANGE, LDG_KEYS_ID, LDG_KEYS_ID_LEN, &k,
                             &v);
         rc == 0; rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v)) {
        struct ldg_key_state ks;
        char id[LDG_KEYID_LEN + 1], path[4300];
        if (k.len != LDG_KEYS_ID_LEN + LDG_KEYID_LEN ||
            memcmp(k.data, LDG_KEYS_ID, LDG_KEYS_ID_LEN) != 0)
            break;
        memcpy(id, (const char *)k.data + LDG_KEYS_ID_LEN, LDG_KEYID_LEN);
        id[LDG_KEYID_LEN] = '\0';
        if ((rc = rec_decode(&v, id, &ks)) < 0)
            goto out;
        {
            /* Never a tampered view without saying so: each record is
             * checked against the key events it names. */
            struct ldg_key_state pk;
            if ((rc = ldg_keys_lookup(t, id, &pk)) < 0)
                goto out;
        }
        if (cnt == cap) {
            struct ldg_keyinfo *na;
            cap = cap ? cap * 2 : 8;
            na = realloc(arr, cap * sizeof *arr);
            if (na == NULL) {
                rc = LDG_ENOMEM;
                goto out;
            }
            arr = na;
        }
        memset(&arr[cnt], 0, sizeof arr[cnt]);
        memcpy(arr[cnt].name, ks.name, sizeof ks.name);
        memcpy(arr[cnt].key_id, ks.key_id, sizeof ks.key_id);
        memcpy(arr[cnt].pub, ks.pub, 32);
        arr[cnt].added_seq = ks.added_seq;
        arr[cnt].revoked_seq = ks.revoked_seq;
        ldg_keys_roles_text(t, &ks, arr[cnt].roles, sizeof arr[cnt].roles);
        arr[cnt].writer_held = ldg_key_writer_held(t, ks.added_seq) == 1;
        key_path(path, sizeof path, l->dir, ks.name);
        arr[cnt].has_secret = access(path, F_OK) == 0;
        if (arr[cnt].has_secret) {
            /* DIR/keys/NAME.key is the newest NAME key's: one revoked
             * (its file wiped) and superseded by a key added again under
             * its name holds no secret, whatever that file is */
            struct ldg_key_state nk;
            int nrc = ldg_keys_lookup_name(t, ks.name, &nk);
            if (nrc < 0 && nrc != LDG_ENOTFOUND) {
                rc = nrc;
                goto out;
            }
            if (nrc == 0 && strcmp(nk.key_id, ks.key_id) != 0)
                arr[cnt].has_secret = 0;
        }
        if ((rc = ldg_key_sealed(t, ks.key_id, &arr[cnt].sealed)) < 0)
            goto out;
        cnt++;
    }
    if (rc == LDG_ENOTFOUND)
        rc = 0;
    if (rc == 0) {
        qsort(arr, cnt, sizeof *arr, cmp_added);
        *out = arr;
        *n = cnt;
        arr = NULL;
    }
out:
    free(arr);
    ldg_cursor_close(c);
    ldg_txn_abort(t);
    return rc;
}

int
ldg_key_info(struct ldg_txn *t, const char *key_id, struct ldg_keyinfo *out)
{
    struct ldg_key_state ks;
    int rc = ldg_keys_lookup(t, key_id, &ks);
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof *out);
    memcpy(out->name, ks.name, sizeof out->name);
    memcpy(out->key_id, ks.key_id, sizeof out->key_id);
    memcpy(out->pub, ks.pub, 32);
    out->added_seq = ks.added_seq;
    out->revoked_seq = ks.revoked_seq;
    return 0;
}

int
ldg_signer_json(struct ldg_txn *t, uint64_t seq, json_t **out)
{
    struct ldg_event ev;
    struct ldg_keyinfo ki;
    int rc;

    *out = NULL;
    if (t == NULL)
        return LDG_EINVAL;
    if ((rc = ldg_event_get(t, seq, &ev)) < 0)
        return rc;
    if (ldg_key_info(t, ev.actor, &ki) < 0)
        ki.name[0] = '\0';
    *out = json_pack("{s:s, s:s?}", "key_id", ev.actor, "name",
                     ki.name[0] ? ki.name : NULL);
    return *out != NULL ? 0 : LDG_ENOMEM;
}
