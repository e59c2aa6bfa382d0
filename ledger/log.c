/*
 * log.c — opening a ledger and appending to it.
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

#include "ledger/ledger_int.h"
#include "ledger/tlog_int.h"

#define META_FORMAT_MAGIC "LDGR"
#define GROW_RETRIES 24

/* ------------------------------------------------------------- errors -- */

const char *
ldg_strerror(int code)
{
    switch (code) {
    case LDG_OK:
        return "ok";
    case LDG_EINVAL:
        return "invalid argument";
    case LDG_ENOMEM:
        return "out of memory";
    case LDG_EIO:
        return "I/O error";
    case LDG_ENOTFOUND:
        return "not found";
    case LDG_EEXIST:
        return "already exists";
    case LDG_ECORRUPT:
        return "stored data is corrupt";
    case LDG_EBADSIG:
        return "signature does not verify";
    case LDG_EFULL:
        return "storage full";
    case LDG_EBADINPUT:
        return "invalid input";
    case LDG_ETOOBIG:
        return "input too large";
    case LDG_EVERSION:
        return "unsupported format version";
    case LDG_EKEY:
        return "key unusable";
    case LDG_ETAMPER:
        return "verification failed";
    case LDG_EERASED:
        return "body erased";
    case LDG_EBADPROOF:
        return "proof does not verify";
    case LDG_EBUSY:
        return "resource busy";
    case LDG_ESTALE:
        return "state is stale";
    case LDG_ENET:
        return "network error";
    case LDG_ETIMEOUT:
        return "timed out";
    case LDG_EHTTP:
        return "HTTP error status";
    default:
        return "unknown error";
    }
}

/* Set on a bulk writer's commit thread for its whole life. It says which
 * of the handle's two message buffers this thread writes: the message
 * still lives on the handle (never a thread-local "last error"), but the
 * choice no longer reads fields another thread writes, which raced
 * (ThreadSanitizer: err_redirect/err_thread were written by the commit
 * thread while the caller's thread read them). A commit thread only ever
 * works on its own writer's ledger. */
static _Thread_local int on_commit_thread;

char *
ldg_errbuf(struct ldg_ledger *l)
{
    return on_commit_thread ? l->err_alt : l->errmsg;
}

void
ldg_seterr(struct ldg_ledger *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ldg_errbuf(l), sizeof l->errmsg, fmt, ap);
    va_end(ap);
}

void
ldg_set_errmsg(struct ldg_ledger *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ldg_errbuf(l), sizeof l->errmsg, fmt, ap);
    va_end(ap);
}

size_t
ldg_body_max(const struct ldg_ledger *l)
{
    return l->opts.body_max_bytes;
}

const char *
ldg_errmsg(const struct ldg_ledger *l)
{
    return l ? l->errmsg : "no ledger";
}

const char *
ldg_dir(const struct ldg_ledger *l)
{
    return l->dir;
}

const char *
ldg_origin(const struct ldg_ledger *l)
{
    return l->origin;
}

const struct ldg_key *
ldg_log_key(const struct ldg_ledger *l)
{
    return l->log_key;
}

void
ldg_set_salt_seed(struct ldg_ledger *l, const uint8_t seed[32])
{
    if (seed == NULL) {
        l->has_salt_seed = 0;
        return;
    }
    memcpy(l->salt_seed, seed, 32);
    l->has_salt_seed = 1;
}

void
ldg_set_clock(struct ldg_ledger *l, const uint64_t *clock_ns)
{
    l->clock_ns = clock_ns;
}

static uint64_t
clock_now(const struct ldg_ledger *l)
{
    struct timespec ts;
    if (l->clock_ns != NULL)
        return *l->clock_ns;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int
ldg_default_dir(char *buf, size_t cap, const char *dir)
{
    const char *env = getenv("LEDGER_DIR"), *xdg = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    int n;

    /* An empty name is a mistake (an unset variable in a script), never
     * a request for the default ledger. */
    if (dir != NULL)
        n = *dir ? snprintf(buf, cap, "%s", dir) : -1;
    else if (env != NULL)
        n = *env ? snprintf(buf, cap, "%s", env) : -1;
    else if (xdg != NULL && *xdg)
        n = snprintf(buf, cap, "%s/ledger", xdg);
    else if (home != NULL && *home)
        n = snprintf(buf, cap, "%s/.local/state/ledger", home);
    else
        return LDG_EINVAL;
    return n > 0 && (size_t)n < cap ? 0 : LDG_EINVAL;
}

/* A C2SP note key name: printable ASCII without '+' or spaces. */
static int
origin_valid(const char *o)
{
    size_t n = strlen(o);
    if (n == 0 || n > LDG_ORIGIN_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (o[i] <= 0x20 || o[i] >= 0x7f || o[i] == '+')
            return 0;
    return 1;
}

static int
mkdir_p(const char *path, mode_t mode)
{
    char tmp[4096];
    size_t n = strlen(path);
    if (n >= sizeof tmp)
        return -1;
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    if (mkdir(tmp, mode) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* ---------------------------------------------------------- open/close -- */

static ldg_dbi
core(struct ldg_ledger *l, enum ldg_core_db which)
{
    return ldg_store_core_dbi(l->store, which);
}

static int
meta_get(struct ldg_txn *t, const char *key, struct ldg_val *v)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    return ldg_kv_get(t, core(l, LDG_DB_META), key, strlen(key), v);
}

static int
meta_put(struct ldg_txn *t, const char *key, const void *v, size_t n)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    return ldg_kv_put(t, core(l, LDG_DB_META), key, strlen(key), v, n);
}

static int
load_meta(struct ldg_ledger *l)
{
    struct ldg_txn *t;
    struct ldg_val v;
    uint32_t ver;
    int rc;

    rc = ldg_txn_begin(l, LDG_TXN_READ, &t);
    if (rc < 0)
        return rc;
    rc = meta_get(t, "format", &v);
    if (rc < 0 || v.len != 8 || memcmp(v.data, META_FORMAT_MAGIC, 4) != 0) {
        ldg_seterr(l, "%s: not a ledger (no format record)", l->dir);
        rc = LDG_ECORRUPT;
        goto out;
    }
    ver = (uint32_t)ldg_rd_be64((const uint8_t *)v.data) & 0xffffffffu;
    if (ver != LDG_FORMAT_VERSION) {
        ldg_seterr(l, "%s: format version %u, this build reads %d", l->dir, ver,
                   LDG_FORMAT_VERSION);
        rc = LDG_EVERSION;
        goto out;
    }
    rc = meta_get(t, "origin", &v);
    if (rc < 0 || v.len == 0 || v.len > LDG_ORIGIN_MAX) {
        ldg_seterr(l, "%s: meta record has no origin", l->dir);
        rc = LDG_ECORRUPT;
        goto out;
    }
    memcpy(l->origin, v.data, v.len);
    l->origin[v.len] = '\0';
    rc = meta_get(t, "log_key", &v);
    if (rc < 0 || v.len != 32) {
        ldg_seterr(l, "%s: meta record has no log key", l->dir);
        rc = LDG_ECORRUPT;
        goto out;
    }
    /* public half only until the secret is needed (need_log_secret) */
    rc = ldg_key_from_public(&l->log_key, LDG_LOG_KEY_NAME, v.data);
out:
    ldg_txn_abort(t);
    return rc;
}

static int
open_handle(struct ldg_ledger **out, const char *dir,
            const struct ldg_options *opts, int create, char *err,
            size_t errcap)
{
    struct ldg_ledger *l;
    struct ldg_store_opts so;
    int rc;

    *out = NULL;
    l = calloc(1, sizeof *l);
    if (l == NULL)
        return LDG_ENOMEM;
    pthread_mutex_init(&l->keys_mu, NULL);
    if (opts != NULL)
        l->opts = *opts;
    if (l->opts.body_max_bytes == 0)
        l->opts.body_max_bytes = LDG_BODY_MAX_DEFAULT;
    if (strlen(dir) >= sizeof l->dir) {
        free(l);
        return LDG_EINVAL;
    }
    memcpy(l->dir, dir, strlen(dir) + 1);
    memset(&so, 0, sizeof so);
    so.map_size = l->opts.map_size_bytes;
    so.map_max = l->opts.map_max_bytes;
    so.rdonly = !create && (l->opts.flags & LDG_RDONLY);
    so.nosync = (l->opts.flags & LDG_NOSYNC) != 0;
    rc = ldg_store_open(&l->store, dir, &so, err, errcap);
    if (rc < 0) {
        free(l);
        return rc;
    }
    *out = l;
    return 0;
}

int
ldg_open(struct ldg_ledger **out, const char *dir,
         const struct ldg_options *opts, char *err, size_t errcap)
{
    char path[4200];
    struct stat st;
    struct ldg_ledger *l;
    int rc;

    *out = NULL;
    if (dir == NULL)
        return LDG_EINVAL;
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    if (stat(path, &st) != 0) {
        snprintf(err, errcap, "no ledger in %s (run 'ledger init')", dir);
        return LDG_ENOTFOUND;
    }
    rc = open_handle(&l, dir, opts, 0, err, errcap);
    if (rc < 0)
        return rc;
    rc = load_meta(l);
    if (rc == 0) {
        /* A ledger without its genesis is one whose init never finished
         * (a crash or an I/O error half-way): never append to it. */
        uint64_t size = 0;
        rc = ldg_size(l, &size);
        if (rc == 0 && size == 0) {
            ldg_seterr(l,
                       "%s holds an unfinished ledger (init did not "
                       "complete); remove it and run 'ledger init' again",
                       dir);
            rc = LDG_ECORRUPT;
        }
    }
    if (rc < 0) {
        snprintf(err, errcap, "%s",
                 l->errmsg[0] ? l->errmsg : ldg_strerror(rc));
        ldg_close(l);
        return rc;
    }
    *out = l;
    return 0;
}

void
ldg_close(struct ldg_ledger *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->nactors; i++)
        ldg_key_free(l->actors[i]);
    ldg_key_free(l->log_key);
    ldg_store_close(l->store);
    ldg_wipe(l->salt_seed, sizeof l->salt_seed);
    pthread_mutex_destroy(&l->keys_mu);
    free(l);
}

int
ldg_txn_begin(struct ldg_ledger *l, unsigned flags, struct ldg_txn **out)
{
    if (l == NULL || out == NULL)
        return LDG_EINVAL;
    return ldg_store_txn_begin(l->store, l, (flags & LDG_TXN_WRITE) != 0, out);
}

int
ldg_applier_add(struct ldg_ledger *l, const struct ldg_applier *a)
{
    if (l == NULL || a == NULL || a->apply == NULL)
        return LDG_EINVAL;
    if (l->nappliers >= LDG_MAX_APPLIERS)
        return LDG_EFULL;
    l->appliers[l->nappliers++] = *a;
    return 0;
}

/* ------------------------------------------------------------ reading -- */

static void
seq_key(uint8_t k[8], uint64_t seq)
{
    ldg_be64(k, seq);
}

int
ldg_txn_size(struct ldg_txn *t, uint64_t *size)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_cursor *c;
    struct ldg_val k;
    int rc = ldg_cursor_open(t, core(l, LDG_DB_ENTRIES), &c);
    if (rc < 0)
        return rc;
    rc = ldg_cursor_get(c, LDG_LAST, NULL, 0, &k, NULL);
    ldg_cursor_close(c);
    if (rc == LDG_ENOTFOUND) {
        *size = 0;
        return 0;
    }
    if (rc < 0)
        return rc;
    if (k.len != 8)
        return LDG_ECORRUPT;
    *size = ldg_rd_be64(k.data) + 1;
    return 0;
}

int
ldg_size(struct ldg_ledger *l, uint64_t *size)
{
    struct ldg_txn *t;
    int rc = ldg_txn_begin(l, LDG_TXN_READ, &t);
    if (rc < 0)
        return rc;
    rc = ldg_txn_size(t, size);
    ldg_txn_abort(t);
    return rc;
}

int
ldg_event_get(struct ldg_txn *t, uint64_t seq, struct ldg_event *ev)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    uint8_t k[8];
    struct ldg_val v;
    int rc;

    seq_key(k, seq);
    rc = ldg_kv_get(t, core(l, LDG_DB_ENTRIES), k, 8, &v);
    if (rc < 0)
        return rc;
    return ldg_event_decode(v.data, v.len, ev);
}

int
ldg_event_get_ex(struct ldg_txn *t, uint64_t seq, struct ldg_event *ev,
                 unsigned flags)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    uint8_t k[8];
    struct ldg_val v;
    int rc;

    seq_key(k, seq);
    rc = ldg_kv_get(t, core(l, LDG_DB_ENTRIES), k, 8, &v);
    if (rc < 0)
        return rc;
    rc = ldg_event_decode_flags(v.data, v.len, ev, flags);
    if (rc == 0 && (flags & LDG_DECODE_TRUSTED) &&
        ldg_tree_stored_hash(t, 0, seq, ev->leaf) != 0)
        ldg_tlog_leaf_hash(ev->leaf, v.data, v.len);
    return rc;
}

static int
body_rec(struct ldg_txn *t, uint64_t seq, struct ldg_val *v)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    uint8_t k[8];
    int rc;
    seq_key(k, seq);
    rc = ldg_kv_get(t, core(l, LDG_DB_BODIES), k, 8, v);
    if (rc == LDG_ENOTFOUND) {
        struct ldg_val e;
        if (ldg_kv_get(t, core(l, LDG_DB_ENTRIES), k, 8, &e) == 0)
            return LDG_EERASED;
    }
    return rc;
}

int
ldg_body_get(struct ldg_txn *t, uint64_t seq, json_t **out)
{
    struct ldg_val v;
    int rc = body_rec(t, seq, &v);
    if (rc < 0)
        return rc;
    return ldg_body_decode_json(v.data, v.len,
                                ldg_txn_ledger(t)->opts.body_max_bytes, out);
}

int
ldg_body_json_append(struct ldg_txn *t, uint64_t seq, char **buf, size_t *len,
                     size_t *cap)
{
    struct ldg_val v;
    int rc = body_rec(t, seq, &v);
    if (rc < 0)
        return rc;
    return ldg_body_record_json_append(
        v.data, v.len, ldg_txn_ledger(t)->opts.body_max_bytes, buf, len, cap);
}

int
ldg_body_fields(struct ldg_txn *t, uint64_t seq, struct ldg_field **out,
                size_t *n)
{
    struct ldg_val v;
    int rc = body_rec(t, seq, &v);
    if (rc < 0)
        return rc;
    return ldg_body_decode(v.data, v.len,
                           ldg_txn_ledger(t)->opts.body_max_bytes, out, n);
}

int
ldg_event_verify_sig(const struct ldg_event *ev, const uint8_t pub[32])
{
    return ldg_ed25519_verify_ctx(ev->sig, LDG_CTX_EVENT, ev->signed_part,
                                  ev->signed_len, pub);
}

static int need_log_secret(struct ldg_ledger *l);

/* ---------------------------------------------------------- Merkle tree -- */

static void
tree_key(uint8_t k[9], int level, uint64_t index)
{
    k[0] = (uint8_t)level;
    ldg_be64(k + 1, index);
}

static int
tree_reader(void *ctx, int level, uint64_t index, uint8_t out[32])
{
    struct ldg_txn *t = ctx;
    struct ldg_ledger *l = ldg_txn_ledger(t);
    uint8_t k[9];
    struct ldg_val v;
    int rc;
    tree_key(k, level, index);
    rc = ldg_kv_get(t, core(l, LDG_DB_TREE), k, 9, &v);
    if (rc < 0)
        return rc;
    if (v.len != 32)
        return LDG_ECORRUPT;
    memcpy(out, v.data, 32);
    return 0;
}

/* Stores leaf hash (0, seq) and every complete subtree it completes:
 * while the node is a right child, hash it with its left sibling. */
int
ldg_tree_add_leaf(struct ldg_txn *t, uint64_t seq, const uint8_t leaf[32])
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    ldg_dbi db = core(l, LDG_DB_TREE);
    uint8_t k[9], h[32], left[32];
    uint64_t i = seq;
    int level = 0, rc;

    memcpy(h, leaf, 32);
    tree_key(k, 0, seq);
    if ((rc = ldg_kv_put(t, db, k, 9, h, 32)) < 0)
        return rc;
    while (i & 1) {
        if ((rc = tree_reader(t, level, i - 1, left)) < 0)
            return rc == LDG_ENOTFOUND ? LDG_ECORRUPT : rc;
        ldg_tlog_node_hash(h, left, h);
        level++;
        i >>= 1;
        tree_key(k, level, i);
        if ((rc = ldg_kv_put(t, db, k, 9, h, 32)) < 0)
            return rc;
    }
    return 0;
}

int
ldg_tree_stored_hash(struct ldg_txn *t, int level, uint64_t index,
                     uint8_t out[32])
{
    if (level < 0 || level > 63)
        return LDG_EINVAL;
    return tree_reader(t, level, index, out);
}

int
ldg_tree_root(struct ldg_txn *t, uint64_t size, uint8_t root[32])
{
    return ldg_tlog_root(tree_reader, t, size, root);
}

int
ldg_tree_inclusion(struct ldg_txn *t, uint64_t index, uint64_t size,
                   uint8_t proof[][32], size_t *n)
{
    return ldg_tlog_inclusion_proof(tree_reader, t, index, size, proof, n);
}

int
ldg_tree_consistency(struct ldg_txn *t, uint64_t old, uint64_t size,
                     uint8_t proof[][32], size_t *n)
{
    return ldg_tlog_consistency_proof(tree_reader, t, old, size, proof, n);
}

int
ldg_checkpoint_get(struct ldg_txn *t, uint64_t size, char **out)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_cursor *c = NULL;
    struct ldg_val k, v;
    uint8_t key[8];
    int rc;

    *out = NULL;
    if (size == 0) {
        rc = ldg_cursor_open(t, core(l, LDG_DB_CHECKPOINTS), &c);
        if (rc < 0)
            return rc;
        rc = ldg_cursor_get(c, LDG_LAST, NULL, 0, &k, &v);
    } else {
        ldg_be64(key, size);
        rc = ldg_kv_get(t, core(l, LDG_DB_CHECKPOINTS), key, 8, &v);
    }
    if (rc == 0) {
        *out = malloc(v.len + 1);
        if (*out == NULL) {
            rc = LDG_ENOMEM;
        } else {
            memcpy(*out, v.data, v.len);
            (*out)[v.len] = '\0';
        }
    }
    ldg_cursor_close(c);
    return rc;
}

int
ldg_verifier_key(struct ldg_ledger *l, char *buf, size_t cap)
{
    int n = ldg_note_verifier(buf, cap, l->origin, l->log_key->pub);
    return n < 0 ? n : 0;
}

int
ldg_proof_text(struct ldg_txn *t, uint64_t index, uint64_t size, char **out)
{
    uint8_t proof[LDG_PROOF_MAX][32];
    size_t n = 0;
    char *ck = NULL;
    uint64_t have;
    int rc;

    *out = NULL;
    if ((rc = ldg_txn_size(t, &have)) < 0)
        return rc;
    if (size == 0)
        size = have;
    if (index >= size || size > have)
        return LDG_ENOTFOUND;
    if ((rc = ldg_checkpoint_get(t, size, &ck)) < 0)
        return rc;
    rc = ldg_tree_inclusion(t, index, size, proof, &n);
    if (rc == 0)
        rc = ldg_tlog_proof_format(out, index, (const uint8_t(*)[32])proof, n,
                                   ck);
    free(ck);
    return rc;
}

int
ldg_consistency_text(struct ldg_txn *t, uint64_t old, uint64_t size, char **out)
{
    uint8_t proof[LDG_PROOF_MAX][32];
    size_t n = 0;
    char *ck = NULL;
    uint64_t have;
    int rc;

    *out = NULL;
    if ((rc = ldg_txn_size(t, &have)) < 0)
        return rc;
    if (size == 0)
        size = have;
    if (old > have || size > have)
        return LDG_ENOTFOUND; /* beyond the log */
    if (old > size)
        return LDG_EINVAL;
    if ((rc = ldg_checkpoint_get(t, size, &ck)) < 0)
        return rc;
    /* From the empty tree the proof is empty (C2SP tlog-witness accepts
     * old size 0; RFC 6962 leaves it undefined). */
    rc = old == 0 ? 0 : ldg_tree_consistency(t, old, size, proof, &n);
    if (rc == 0)
        rc = ldg_tlog_consistency_format(out, old, (const uint8_t(*)[32])proof,
                                         n, ck);
    free(ck);
    return rc;
}

int
ldg_log_sign_note(struct ldg_ledger *l, const char *text, size_t len,
                  char **out)
{
    int rc = need_log_secret(l);
    if (rc < 0)
        return rc;
    return ldg_note_sign(out, text, len, l->origin, l->log_key);
}

int
ldg_log_verify_note(struct ldg_ledger *l, const char *note, size_t len,
                    size_t *text_len)
{
    return ldg_note_verify(note, len, l->origin, l->log_key->pub, text_len);
}

int
ldg_note_verify_vkey(const char *vkey, const char *note, size_t len,
                     size_t *text_len)
{
    char name[LDG_ORIGIN_MAX + 1];
    uint8_t pub[32];
    int rc = ldg_note_parse_verifier(vkey, name, sizeof name, pub);
    if (rc < 0)
        return rc;
    return ldg_note_verify(note, len, name, pub, text_len);
}

/* Signs and stores the checkpoint for the tree of size leaves. */
static int
put_checkpoint(struct ldg_txn *t, uint64_t size)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    char text[LDG_ORIGIN_MAX + 128];
    uint8_t root[32], k[8];
    char *note = NULL;
    int rc, n;

    if ((rc = ldg_tree_root(t, size, root)) < 0)
        return rc;
    n = ldg_checkpoint_text(text, sizeof text, l->origin, size, root);
    if (n < 0)
        return n;
    rc = ldg_note_sign(&note, text, (size_t)n, l->origin, l->log_key);
    if (rc < 0)
        return rc;
    ldg_be64(k, size);
    rc = ldg_kv_put(t, core(l, LDG_DB_CHECKPOINTS), k, 8, note, strlen(note));
    free(note);
    return rc;
}

/* -------------------------------------------------------------- keys -- */

static int
need_log_secret(struct ldg_ledger *l)
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

int
ldg_keys_load(struct ldg_ledger *l, const char *name, struct ldg_key **out)
{
    char err[512];
    int rc = ldg_keyfile_read(l->dir, name, out, err, sizeof err);
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
static int
actor_key(struct ldg_ledger *l, const char *name, struct ldg_key **out)
{
    struct ldg_key *k;
    int rc;

    if (name == NULL || strcmp(name, LDG_LOG_KEY_NAME) == 0) {
        rc = need_log_secret(l);
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

/* ----------------------------------------------------------- prepared -- */

struct prep {
    char type[LDG_TYPE_MAX + 1];
    char subject[LDG_SUBJECT_MAX + 1];
    char run[LDG_RUN_MAX + 1];
    int has_parent;
    uint64_t parent;
    struct ldg_key *signer; /* borrowed from the handle */
    json_t *body;           /* owned reference */
    uint64_t seq, ts;       /* stamp the signature was made for */
    uint64_t body_seq;      /* seq the body record was prepared for */
    int signed_ok;          /* stamp, body and signature are done */
    int rc;                 /* error from signing, if any */
    struct ldg_body_rec body_rec;
    struct ldg_buf entry;
    size_t map_len;
    uint8_t sig[64];
};

static void
prep_release(struct prep *p)
{
    json_decref(p->body);
    ldg_body_rec_release(&p->body_rec);
    ldg_buf_release(&p->entry);
    memset(p, 0, sizeof *p);
}

static int
copy_field(struct ldg_ledger *l, char *dst, size_t cap, const char *src,
           const char *what)
{
    size_t n = strlen(src);
    if (n >= cap) {
        ldg_seterr(l, "%s longer than %zu bytes", what, cap - 1);
        return LDG_ETOOBIG;
    }
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
               "at event %llu do not allow it (ledger keys list shows them)",
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

static int prep_init_ex(struct ldg_ledger *l, struct prep *p,
                        const struct ldg_event_in *in, uint64_t seq_hint,
                        int in_txn);

static int
prep_init(struct ldg_ledger *l, struct prep *p, const struct ldg_event_in *in,
          uint64_t seq_hint)
{
    return prep_init_ex(l, p, in, seq_hint, 0);
}

/* in_txn: the caller holds the write transaction the event goes into, and
 * check_in_txn will judge the actor there (a read transaction here would
 * not see the key events of that transaction). */
static int
prep_init_ex(struct ldg_ledger *l, struct prep *p,
             const struct ldg_event_in *in, uint64_t seq_hint, int in_txn)
{
    char err[512];
    const json_t *run;
    int rc;

    memset(p, 0, sizeof *p);
    if (in == NULL || in->type == NULL) {
        ldg_seterr(l, "field 'type': required");
        return LDG_EBADINPUT;
    }
    if (in->body != NULL && !json_is_object(in->body)) {
        ldg_seterr(l, "field 'body': must be an object");
        return LDG_EBADINPUT;
    }
    rc = ldg_vocab_check(in->type, in->body, err, sizeof err);
    if (rc == 0 && strcmp(in->type, "key.added") == 0)
        rc = ldg_roles_check(json_object_get(in->body, "roles"), err,
                             sizeof err);
    if (rc < 0) {
        ldg_seterr(l, "%s", err);
        return rc;
    }
    if (strcmp(in->type, "ledger.genesis") == 0) {
        ldg_seterr(l, "ledger.genesis is written by 'ledger init' only");
        return LDG_EBADINPUT;
    }
    if ((rc = copy_field(l, p->type, sizeof p->type, in->type, "type")) < 0)
        return rc;
    if (in->subject != NULL) {
        if ((rc = copy_field(l, p->subject, sizeof p->subject, in->subject,
                             "subject")) < 0)
            return rc;
        if (!subject_valid(p->subject)) {
            ldg_seterr(l, "field 'subject': must be kind:name, got '%s'",
                       p->subject);
            return LDG_EBADINPUT;
        }
    } else if (ldg_vocab_subject(in->type, in->body, p->subject,
                                 sizeof p->subject) < 0) {
        ldg_seterr(l, "derived subject longer than %d bytes", LDG_SUBJECT_MAX);
        return LDG_ETOOBIG;
    }
    run = in->body ? json_object_get(in->body, "run") : NULL;
    if (in->run != NULL) {
        if (in->run[0] == '\0') {
            /* Not "no run": an empty run id would be dropped from the
             * entry, so the caller's event would silently lose it. */
            ldg_seterr(l, "field 'run': must not be empty (leave it out "
                          "for an event outside a run)");
            return LDG_EBADINPUT;
        }
        if ((rc = copy_field(l, p->run, sizeof p->run, in->run, "run")) < 0)
            return rc;
    } else if (json_is_string(run)) {
        if ((rc = copy_field(l, p->run, sizeof p->run, json_string_value(run),
                             "body field 'run'")) < 0)
            return rc;
    }
    if (strlen(p->run) != strlen(in->run ? in->run : p->run)) {
        ldg_seterr(l, "field 'run': contains a NUL byte");
        return LDG_EBADINPUT;
    }
    p->has_parent = in->has_parent;
    p->parent = in->parent;
    if (in->actor != NULL && !ldg_key_name_valid(in->actor)) {
        ldg_seterr(l, "field 'actor': invalid key name '%s'", in->actor);
        return LDG_EBADINPUT;
    }
    rc = actor_key(l, in->actor, &p->signer);
    if (rc < 0)
        return rc;
    if ((strncmp(p->type, "key.", 4) == 0) && p->signer != l->log_key) {
        ldg_seterr(l, "%s must be signed by the log key", p->type);
        return LDG_EKEY;
    }
    if (!in_txn && p->signer != l->log_key &&
        (rc = actor_active(l, p->signer, p->type)) < 0)
        return rc;
    p->body = in->body ? json_incref(in->body) : json_object();
    if (p->body == NULL)
        return LDG_ENOMEM;
    /* The body's limits (size, fields, depth) are checked here, so a bad
     * body is refused on its own and never fails a group commit. */
    p->body_seq = seq_hint;
    rc = ldg_body_prepare(
        p->body, seq_hint, l->has_salt_seed ? l->salt_seed : NULL,
        l->opts.body_max_bytes, &p->body_rec, err, sizeof err);
    if (rc < 0) {
        ldg_seterr(l, "%s", err);
        return rc;
    }
    return 0;
}

/* Steps 2-4 for a given stamp. Thread-safe: touches only p and read-only
 * handle fields. */
static int
prep_sign(const struct ldg_ledger *l, struct prep *p, uint64_t seq, uint64_t ts)
{
    struct ldg_envelope env;
    char err[256];
    int rc;

    ldg_buf_release(&p->entry);
    p->signed_ok = 0;
    /* Salts depend on seq only in test mode (seeded salts). */
    if (p->body_rec.rec == NULL || (l->has_salt_seed && p->body_seq != seq)) {
        ldg_body_rec_release(&p->body_rec);
        rc = ldg_body_prepare(
            p->body, seq, l->has_salt_seed ? l->salt_seed : NULL,
            l->opts.body_max_bytes, &p->body_rec, err, sizeof err);
        if (rc < 0)
            return rc;
        p->body_seq = seq;
    }
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

/* Semantic checks that need the log: key events, erasure, parent links,
 * actor validity at this point. */
static int
check_in_txn(struct ldg_txn *t, struct prep *p, uint64_t seq, int *erase,
             uint64_t *erase_target)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_key_state ks;
    int rc;

    *erase = 0;
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
    if (strcmp(p->type, "key.added") == 0) {
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
    } else if (strcmp(p->type, "key.revoked") == 0) {
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
    } else if (strcmp(p->type, "body.erased") == 0) {
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
        if (strcmp(tev.type, "ledger.genesis") == 0 ||
            strncmp(tev.type, "key.", 4) == 0 ||
            strcmp(tev.type, "body.erased") == 0) {
            ldg_seterr(l,
                       "body.erased: event %lld (%s) is needed for "
                       "verification and cannot be erased",
                       (long long)tgt, tev.type);
            return LDG_EBADINPUT;
        }
        ldg_be64(k, (uint64_t)tgt);
        if (ldg_kv_get(t, core(l, LDG_DB_BODIES), k, 8, &v) != 0) {
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

static int store_checked(struct ldg_txn *t, struct prep *p,
                         const uint8_t prev[32], uint8_t leaf_out[32],
                         int erase, uint64_t target);

/* Steps 5-6 for one prepared, signed event. */
static int
store_one(struct ldg_txn *t, struct prep *p, const uint8_t prev[32],
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
store_checked(struct ldg_txn *t, struct prep *p, const uint8_t prev[32],
              uint8_t leaf_out[32], int erase, uint64_t target)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_event ev;
    uint8_t k[8];
    int rc;

    p->entry.len = 1 + p->map_len; /* drop a trailer from a retried try */
    if ((rc = ldg_entry_finish(&p->entry, prev, p->sig)) < 0)
        return rc;
    memset(&ev, 0, sizeof ev);
    ev.seq = p->seq;
    ev.ts_ns = p->ts;
    memcpy(ev.type, p->type, sizeof ev.type);
    memcpy(ev.subject, p->subject, sizeof ev.subject);
    memcpy(ev.run, p->run, sizeof ev.run);
    memcpy(ev.actor, p->signer->key_id, sizeof ev.actor);
    ev.has_parent = p->has_parent;
    ev.parent = p->parent;
    memcpy(ev.prev, prev, 32);
    memcpy(ev.body_root, p->body_rec.root, 32);
    memcpy(ev.sig, p->sig, 64);
    ev.entry = p->entry.p;
    ev.entry_len = p->entry.len;
    ev.signed_part = p->entry.p + 1;
    ev.signed_len = p->map_len;
    ldg_tlog_leaf_hash(ev.leaf, ev.entry, ev.entry_len);

    ldg_be64(k, p->seq);
    rc = ldg_kv_put_new(t, core(l, LDG_DB_ENTRIES), k, 8, ev.entry,
                        ev.entry_len);
    if (rc == 0)
        rc = ldg_kv_put(t, core(l, LDG_DB_BODIES), k, 8, p->body_rec.rec,
                        p->body_rec.rec_len);
    if (rc == 0 && !(l->opts.flags & LDG_BENCH_NOTREE))
        rc = ldg_tree_add_leaf(t, p->seq, ev.leaf);
    if (rc == 0)
        rc = ldg_index_put(t, &ev);
    if (rc == 0)
        rc = ldg_keys_apply(t, &ev, p->body);
    if (rc == 0 && erase) {
        ldg_be64(k, target);
        rc = ldg_kv_del(t, core(l, LDG_DB_BODIES), k, 8, NULL, 0);
    }
    for (size_t i = 0; rc == 0 && i < l->nappliers; i++) {
        rc = l->appliers[i].apply(l->appliers[i].ctx, t, &ev,
                                  p->body ? p->body : empty_object());
        if (rc < 0 && ldg_errbuf(l)[0] == '\0')
            ldg_seterr(l, "event %llu: projection '%s' failed: %s",
                       (unsigned long long)p->seq, l->appliers[i].name,
                       ldg_strerror(rc));
    }
    if (rc == 0)
        memcpy(leaf_out, ev.leaf, 32);
    return rc;
}

/*
 * Commits preps[0..n) as one transaction (steps 2-8). Retries after
 * growing the map when it is full. On success the events are durable.
 */
static int
commit_group(struct ldg_ledger *l, struct prep *preps, size_t n,
             uint64_t *first_seq)
{
    struct ldg_txn *t = NULL;
    struct tail tl;
    uint8_t prev[32];
    int rc, tries = 0;

    if (n == 0)
        return 0;
again:
    ldg_errbuf(l)[0] = '\0';
    rc = ldg_txn_begin(l, LDG_TXN_WRITE, &t);
    if (rc < 0) {
        ldg_seterr(l, "cannot begin a write transaction: %s", ldg_strerror(rc));
        return rc;
    }
    if ((rc = read_tail(t, &tl)) < 0)
        goto fail;
    memcpy(prev, tl.leaf, 32);
    for (size_t i = 0; i < n; i++) {
        uint64_t seq = tl.size + i;
        uint64_t min_ts = (seq == 0) ? 0 : tl.ts + 1;
        struct prep *p = &preps[i];
        if (p->rc < 0) {
            rc = p->rc;
            goto fail;
        }
        /* A stamp made ahead of time holds if the log is where we thought
         * and time still moves forward; otherwise stamp and sign again. */
        if (!p->signed_ok || p->seq != seq || p->ts < min_ts) {
            uint64_t now = clock_now(l);
            rc = prep_sign(l, p, seq, now > min_ts ? now : min_ts);
            if (rc < 0)
                goto fail;
        }
        tl.ts = p->ts;
        if ((rc = store_one(t, p, prev, prev)) < 0)
            goto fail;
    }
    if (!(l->opts.flags & LDG_BENCH_NOTREE) &&
        (rc = put_checkpoint(t, tl.size + n)) < 0)
        goto fail;
    for (size_t i = 0; i < l->nappliers; i++) {
        if (l->appliers[i].at_commit == NULL)
            continue;
        rc = l->appliers[i].at_commit(l->appliers[i].ctx, t, tl.size + n);
        if (rc < 0)
            goto fail;
    }
    rc = ldg_txn_commit(t);
    t = NULL;
    if (rc < 0)
        goto fail;
    if (first_seq != NULL)
        *first_seq = tl.size;
    return 0;
fail:
    ldg_txn_abort(t);
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
    return rc;
}

int
ldg_append(struct ldg_ledger *l, const struct ldg_event_in *ev,
           uint64_t *seq_out)
{
    struct prep p;
    uint64_t first;
    int rc;

    if (l == NULL || ev == NULL)
        return LDG_EINVAL;
    if (l->opts.flags & LDG_RDONLY) {
        ldg_seterr(l, "ledger opened read-only");
        return LDG_EINVAL;
    }
    l->errmsg[0] = '\0';
    if ((rc = need_log_secret(l)) < 0)
        return rc;
    {
        uint64_t hint = 0;
        if (l->has_salt_seed && (rc = ldg_size(l, &hint)) < 0)
            return rc;
        rc = prep_init(l, &p, ev, hint);
    }
    if (rc == 0)
        rc = commit_group(l, &p, 1, &first);
    if (rc == 0 && seq_out != NULL)
        *seq_out = first;
    prep_release(&p);
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
    uint64_t n;  /* events stored in the transaction */
    int dead;    /* a storage failure: only ldg_batch_free is left */
    int full;    /* that failure was LDG_EFULL */
};

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
    if ((rc = need_log_secret(l)) < 0)
        return rc;
    b = calloc(1, sizeof *b);
    if (b == NULL)
        return LDG_ENOMEM;
    b->l = l;
    rc = ldg_txn_begin(l, LDG_TXN_WRITE, &b->t);
    if (rc < 0) {
        ldg_seterr(l, "cannot begin a write transaction: %s",
                   ldg_strerror(rc));
        free(b);
        return rc;
    }
    if ((rc = read_tail(b->t, &b->tl)) < 0) {
        ldg_seterr(l, "cannot read the end of the log: %s", ldg_strerror(rc));
        ldg_txn_abort(b->t);
        free(b);
        return rc;
    }
    memcpy(b->prev, b->tl.leaf, 32);
    *out = b;
    return 0;
}

int
ldg_batch_add(struct ldg_batch *b, const struct ldg_event_in *ev)
{
    struct ldg_ledger *l;
    struct prep p;
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
    seq = b->tl.size + b->n;
    rc = prep_init_ex(l, &p, ev, seq, 1);
    if (rc == 0) {
        now = clock_now(l);
        min_ts = seq == 0 ? 0 : b->tl.ts + 1;
        rc = prep_sign(l, &p, seq, now > min_ts ? now : min_ts);
        if (rc == 0)
            rc = check_in_txn(b->t, &p, seq, &erase, &target);
    }
    if (rc < 0) {
        /* refused: nothing of this event was written */
        prep_release(&p);
        return rc;
    }
    rc = store_checked(b->t, &p, b->prev, b->prev, erase, target);
    if (rc < 0)
        goto dead;
    b->tl.ts = p.ts;
    b->n++;
    prep_release(&p);
    return 0;
dead:
    prep_release(&p);
    b->dead = 1;
    b->full = rc == LDG_EFULL;
    if (rc == LDG_EFULL)
        ldg_seterr(l, "storage full (map or disk); nothing of the batch is "
                      "written");
    else if (l->errmsg[0] == '\0')
        ldg_seterr(l, "append failed: %s", ldg_strerror(rc));
    /* A storage failure is never one of the codes that refuse one event
     * (LDG_EBADINPUT, LDG_ETOOBIG, LDG_EKEY, LDG_EEXIST). */
    return rc == LDG_EBADINPUT || rc == LDG_ETOOBIG || rc == LDG_EKEY ||
                   rc == LDG_EEXIST
               ? LDG_EIO
               : rc;
}

int
ldg_batch_commit(struct ldg_batch *b, uint64_t *first_seq, uint64_t *n)
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
    if (b->n > 0 && !(l->opts.flags & LDG_BENCH_NOTREE))
        rc = put_checkpoint(b->t, size);
    for (size_t i = 0; rc == 0 && b->n > 0 && i < l->nappliers; i++)
        if (l->appliers[i].at_commit != NULL)
            rc = l->appliers[i].at_commit(l->appliers[i].ctx, b->t, size);
    if (rc == 0)
        rc = b->n > 0 ? ldg_txn_commit(b->t) : (ldg_txn_abort(b->t), 0);
    else
        ldg_txn_abort(b->t);
    b->t = NULL;
    if (rc < 0) {
        b->dead = 1;
        b->full = rc == LDG_EFULL;
        if (rc == LDG_EFULL && ldg_store_disk_full(l->store)) {
            uint64_t fs_free = 0;
            ldg_store_fs_free(l->store, &fs_free, NULL);
            ldg_seterr(l,
                       "no space left on device (%llu MiB free on FS); "
                       "nothing of the batch is written",
                       (unsigned long long)(fs_free >> 20));
        } else if (rc == LDG_EFULL)
            ldg_seterr(l, "storage full (map or disk); nothing of the batch "
                          "is written");
        else if (l->errmsg[0] == '\0')
            ldg_seterr(l, "commit failed: %s", ldg_strerror(rc));
        return rc;
    }
    if (first_seq != NULL)
        *first_seq = b->tl.size;
    if (n != NULL)
        *n = b->n;
    return 0;
}

void
ldg_batch_free(struct ldg_batch *b)
{
    if (b == NULL)
        return;
    ldg_txn_abort(b->t);
    /* The map was too small for the batch: make room for a retry (as
     * far as the file system has room; a full disk does not grow it). */
    if (b->full) {
        char why[256];
        ldg_store_grow(b->l->store, why, sizeof why);
    }
    free(b);
}

/* ------------------------------------------------------------- writer -- */

/*
 * The bulk writer is a three-stage pipeline over a ring of batches:
 *
 *   caller thread    validate, stamp (predicted seq, ts)  -> ring[head]
 *   signing threads  body commitment, encode, sign        (any batch)
 *   commit thread    chain, store, checkpoint, fsync      ring[tail]
 *
 * A batch is sealed when full (or on flush) and committed, in order, once
 * every event in it is signed. While the commit thread waits on fsync the
 * other stages go on with the next batches, so the two cores stay busy.
 *
 * Stamps are predictions: commit_group re-checks them against the log
 * and signs again if another process appended in between. The first
 * failed commit is sticky: later batches are dropped unacknowledged, and
 * ldg_writer_committed says exactly how many events are durable.
 */
#define RING 4
#define SIGN_CHUNK 8 /* events a signer takes per lock round */

struct wbatch {
    struct prep *preps; /* capacity w->batch */
    size_t n;           /* events in the batch */
    size_t nsigned;     /* events through a signer */
    size_t dirty;       /* committed preps not yet released (see below) */
};

struct ldg_writer {
    struct ldg_ledger *l;
    size_t batch;
    void (*on_commit)(void *ctx, uint64_t first_seq, uint64_t n);
    void *on_commit_ctx;
    struct wbatch ring[RING];
    uint64_t head;   /* counter of the batch being filled */
    uint64_t tail;   /* counter of the next batch to commit */
    uint64_t sign_b; /* next event to sign: batch counter ... */
    size_t sign_i;   /* ... and index in it */
    uint64_t next_seq, last_ts;
    int reclaim; /* head moved on: its slot may hold committed preps */
    uint64_t committed, first_seq;
    int commit_rc;
    char commit_err[1024];
    unsigned nsigners;
    pthread_t signers[16];
    pthread_t committer;
    int have_committer;
    pthread_mutex_t mu;
    pthread_cond_t work, ready, space;
    int stop;
};

/* With mu held: moves the signing cursor past finished sealed batches and
 * says whether an event is waiting to be signed. */
static int
sign_available(struct ldg_writer *w)
{
    /* A committed batch was fully signed: never look at its slot again,
     * another batch may be filling it. */
    if (w->sign_b < w->tail) {
        w->sign_b = w->tail;
        w->sign_i = 0;
    }
    while (w->sign_b < w->head && w->sign_i >= w->ring[w->sign_b % RING].n) {
        w->sign_b++;
        w->sign_i = 0;
    }
    /* The slot of batch tail+RING is still the tail batch's. */
    if (w->sign_b >= w->tail + RING)
        return 0;
    return w->sign_i < w->ring[w->sign_b % RING].n;
}

static void *
sign_worker(void *arg)
{
    struct ldg_writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        struct wbatch *b;
        size_t first, k;
        while (!w->stop && !sign_available(w))
            pthread_cond_wait(&w->work, &w->mu);
        if (w->stop)
            break;
        /* Take up to SIGN_CHUNK waiting events at once: one lock round
         * per chunk instead of one per event. */
        b = &w->ring[w->sign_b % RING];
        first = w->sign_i;
        k = b->n - first;
        if (k > SIGN_CHUNK)
            k = SIGN_CHUNK;
        w->sign_i += k;
        pthread_mutex_unlock(&w->mu);
        for (size_t i = first; i < first + k; i++) {
            struct prep *p = &b->preps[i];
            p->rc = prep_sign(w->l, p, p->seq, p->ts);
        }
        pthread_mutex_lock(&w->mu);
        b->nsigned += k;
        if (b->nsigned == b->n)
            pthread_cond_signal(&w->ready);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static void *
commit_worker(void *arg)
{
    struct ldg_writer *w = arg;
    struct ldg_ledger *l = w->l;

    on_commit_thread = 1;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        struct wbatch *b;
        uint64_t first = 0;
        int rc;
        while (!(w->tail < w->head && w->ring[w->tail % RING].nsigned ==
                                          w->ring[w->tail % RING].n) &&
               !(w->stop && w->tail == w->head))
            pthread_cond_wait(&w->ready, &w->mu);
        if (w->tail == w->head)
            break; /* stopping, nothing sealed left */
        b = &w->ring[w->tail % RING];
        rc = w->commit_rc;
        pthread_mutex_unlock(&w->mu);
        if (rc == 0) {
            rc = commit_group(l, b->preps, b->n, &first);
            if (rc < 0)
                snprintf(w->commit_err, sizeof w->commit_err, "%s", l->err_alt);
        }
        if (rc == 0 && w->on_commit != NULL)
            w->on_commit(w->on_commit_ctx, first, b->n);
        if (rc == 0 && (w->tail & 3) == 3)
            ldg_store_trim(l->store);
        /* The preps are released by the caller thread when it fills this
         * slot again (writer_reclaim): it allocated their JSON and body
         * records, and glibc frees far faster on the allocating thread. */
        pthread_mutex_lock(&w->mu);
        if (rc == 0) {
            if (w->committed == 0)
                __atomic_store_n(&w->first_seq, first, __ATOMIC_RELEASE);
            __atomic_store_n(&w->committed, w->committed + b->n,
                             __ATOMIC_RELEASE);
        } else if (w->commit_rc == 0) {
            w->commit_rc = rc;
        }
        b->dirty = b->n;
        b->n = 0;
        b->nsigned = 0;
        w->tail++;
        pthread_cond_broadcast(&w->space);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static void
writer_stop(struct ldg_writer *w)
{
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->work);
    pthread_cond_broadcast(&w->ready);
    pthread_mutex_unlock(&w->mu);
    for (unsigned i = 0; i < w->nsigners; i++)
        pthread_join(w->signers[i], NULL);
    if (w->have_committer)
        pthread_join(w->committer, NULL);
    w->nsigners = 0;
    w->have_committer = 0;
}

int
ldg_writer_new(struct ldg_writer **out, struct ldg_ledger *l,
               const struct ldg_writer_options *opts)
{
    struct ldg_writer *w;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned want;
    int rc;

    *out = NULL;
    if (l == NULL)
        return LDG_EINVAL;
    if ((rc = need_log_secret(l)) < 0)
        return rc;
    w = calloc(1, sizeof *w);
    if (w == NULL)
        return LDG_ENOMEM;
    w->l = l;
    w->batch = opts && opts->batch ? opts->batch : 1000;
    if (opts != NULL) {
        w->on_commit = opts->on_commit;
        w->on_commit_ctx = opts->ctx;
    }
    want =
        opts && opts->threads ? opts->threads : (unsigned)(ncpu > 0 ? ncpu : 1);
    if (want > 16)
        want = 16;
    for (int i = 0; i < RING; i++) {
        w->ring[i].preps = calloc(w->batch, sizeof(struct prep));
        if (w->ring[i].preps == NULL) {
            rc = LDG_ENOMEM;
            goto fail;
        }
    }
    if ((rc = ldg_size(l, &w->next_seq)) < 0)
        goto fail;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->work, NULL);
    pthread_cond_init(&w->ready, NULL);
    pthread_cond_init(&w->space, NULL);
    for (unsigned i = 0; i < want; i++) {
        if (pthread_create(&w->signers[i], NULL, sign_worker, w) != 0)
            break;
        w->nsigners++;
    }
    if (w->nsigners > 0 &&
        pthread_create(&w->committer, NULL, commit_worker, w) == 0)
        w->have_committer = 1;
    if (!w->have_committer) {
        writer_stop(w);
        rc = LDG_ENOMEM;
        ldg_seterr(l, "cannot start the writer threads");
        goto fail;
    }
    *out = w;
    return 0;
fail:
    for (int i = 0; i < RING; i++)
        free(w->ring[i].preps);
    free(w);
    return rc;
}

/* With mu held: seals the batch being filled, if it has events. */
static void
seal(struct ldg_writer *w)
{
    struct wbatch *b = &w->ring[w->head % RING];
    if (b->n == 0)
        return;
    w->head++;
    w->reclaim = 1;
    pthread_cond_signal(&w->ready);
    pthread_cond_broadcast(&w->work);
}

/* Error to hand the caller once a commit failed. */
static int
commit_failure(struct ldg_writer *w)
{
    snprintf(w->l->errmsg, sizeof w->l->errmsg, "%s", w->commit_err);
    return w->commit_rc;
}

int
ldg_writer_flush(struct ldg_writer *w)
{
    int rc;
    if (w == NULL)
        return LDG_EINVAL;
    pthread_mutex_lock(&w->mu);
    seal(w);
    while (w->tail < w->head)
        pthread_cond_wait(&w->space, &w->mu);
    rc = w->commit_rc;
    pthread_mutex_unlock(&w->mu);
    if (rc < 0)
        return commit_failure(w);
    /* Predict from the log as it is now: another process may append
     * between our groups. */
    return ldg_size(w->l, &w->next_seq);
}

/* Releases the committed preps of the slot about to be filled, once per
 * slot (after seal() moved head on). Only the caller thread fills slots,
 * and no other thread looks at a slot's preps beyond its n, which is 0
 * here, so they are freed without the lock. */
static void
writer_reclaim(struct ldg_writer *w)
{
    struct wbatch *b;
    size_t d = 0;

    pthread_mutex_lock(&w->mu);
    b = &w->ring[w->head % RING];
    if (b->n == 0) {
        d = b->dirty;
        b->dirty = 0;
    }
    pthread_mutex_unlock(&w->mu);
    for (size_t i = 0; i < d; i++)
        prep_release(&b->preps[i]);
}

int
ldg_writer_add(struct ldg_writer *w, const struct ldg_event_in *ev)
{
    struct ldg_ledger *l;
    struct wbatch *b;
    struct prep p;
    uint64_t now;
    int rc;

    if (w == NULL || ev == NULL)
        return LDG_EINVAL;
    l = w->l;
    pthread_mutex_lock(&w->mu);
    rc = w->commit_rc;
    pthread_mutex_unlock(&w->mu);
    if (rc < 0)
        return commit_failure(w);
    l->errmsg[0] = '\0';
    if (w->reclaim) {
        w->reclaim = 0;
        writer_reclaim(w);
    }
    rc = prep_init(l, &p, ev, w->next_seq);
    if (rc < 0) {
        prep_release(&p);
        return rc;
    }
    /* Key events and erasures are checked against the log as it is when
     * they commit, so they go alone: flush what is queued, then append. */
    if (strncmp(p.type, "key.", 4) == 0 || strcmp(p.type, "body.erased") == 0) {
        uint64_t first;
        rc = ldg_writer_flush(w);
        if (rc == 0)
            rc = commit_group(l, &p, 1, &first);
        if (rc == 0) {
            if (w->committed == 0)
                __atomic_store_n(&w->first_seq, first, __ATOMIC_RELEASE);
            __atomic_store_n(&w->committed, w->committed + 1,
                             __ATOMIC_RELEASE);
            w->next_seq = first + 1;
            if (w->on_commit != NULL)
                w->on_commit(w->on_commit_ctx, first, 1);
        }
        prep_release(&p);
        return rc;
    }
    if (p.has_parent && p.parent >= w->next_seq) {
        ldg_seterr(l, "parent %llu is not an earlier event than %llu",
                   (unsigned long long)p.parent,
                   (unsigned long long)w->next_seq);
        prep_release(&p);
        return LDG_EBADINPUT;
    }
    now = clock_now(l);
    p.seq = w->next_seq++;
    p.ts = now > w->last_ts ? now : w->last_ts + 1;
    w->last_ts = p.ts;
    pthread_mutex_lock(&w->mu);
    b = &w->ring[w->head % RING];
    b->preps[b->n++] = p;
    /* Wake a signer per chunk, not per event; seal() wakes them all. */
    if (b->n % SIGN_CHUNK == 0)
        pthread_cond_signal(&w->work);
    if (b->n == w->batch) {
        seal(w);
        while (w->head - w->tail >= RING)
            pthread_cond_wait(&w->space, &w->mu);
    }
    rc = w->commit_rc;
    pthread_mutex_unlock(&w->mu);
    return rc < 0 ? commit_failure(w) : 0;
}

uint64_t
ldg_writer_committed(const struct ldg_writer *w)
{
    /* read while the commit thread may add to it */
    return w ? __atomic_load_n(&w->committed, __ATOMIC_ACQUIRE) : 0;
}

uint64_t
ldg_writer_first_seq(const struct ldg_writer *w)
{
    return w ? __atomic_load_n(&w->first_seq, __ATOMIC_ACQUIRE) : 0;
}

void
ldg_writer_free(struct ldg_writer *w)
{
    if (w == NULL)
        return;
    /* Sealed batches are committed (ldg_writer_add promised it, and the
     * commit thread may have done it already); the unsealed one is dropped
     * (it was never acknowledged). ledger.h states this contract. */
    pthread_mutex_lock(&w->mu);
    while (w->tail < w->head)
        pthread_cond_wait(&w->space, &w->mu);
    pthread_mutex_unlock(&w->mu);
    writer_stop(w);
    for (int i = 0; i < RING; i++) {
        size_t used =
            w->ring[i].n > w->ring[i].dirty ? w->ring[i].n : w->ring[i].dirty;
        for (size_t j = 0; j < used; j++)
            prep_release(&w->ring[i].preps[j]);
        free(w->ring[i].preps);
    }
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->work);
    pthread_cond_destroy(&w->ready);
    pthread_cond_destroy(&w->space);
    free(w);
}

/* --------------------------------------------------------------- init -- */

static int
write_genesis(struct ldg_ledger *l)
{
    struct prep p;
    char hex[65];
    int rc;

    memset(&p, 0, sizeof p);
    memcpy(p.type, "ledger.genesis", sizeof "ledger.genesis");
    memcpy(p.subject, "host:local", sizeof "host:local");
    p.signer = l->log_key;
    ldg_hex(hex, l->log_key->pub, 32);
    p.body = json_pack("{s:s, s:s}", "origin", l->origin, "log_key", hex);
    if (p.body == NULL)
        return LDG_ENOMEM;
    rc = commit_group(l, &p, 1, NULL);
    prep_release(&p);
    return rc;
}

int
ldg_init(const char *dir, const char *origin, const struct ldg_options *opts,
         char *err, size_t errcap)
{
    char path[4200], gen[64];
    struct stat st;
    struct ldg_ledger *l = NULL;
    struct ldg_key *key = NULL;
    struct ldg_txn *t = NULL;
    uint8_t fmt[8], rnd[6];
    int rc, created = 0;

    if (dir == NULL)
        return LDG_EINVAL;
    if (origin == NULL) {
        char hex[13];
        ldg_random(rnd, sizeof rnd);
        ldg_hex(hex, rnd, sizeof rnd);
        snprintf(gen, sizeof gen, "ledger.local/%s", hex);
        origin = gen;
    }
    if (!origin_valid(origin)) {
        snprintf(err, errcap,
                 "invalid origin '%s': 1-%d printable ASCII characters, no "
                 "spaces or '+'",
                 origin, LDG_ORIGIN_MAX);
        return LDG_EBADINPUT;
    }
    if (mkdir_p(dir, 0700) != 0) {
        snprintf(err, errcap, "cannot create %s: %s", dir, strerror(errno));
        return LDG_EIO;
    }
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    if (stat(path, &st) == 0) {
        snprintf(err, errcap, "a ledger already exists in %s", dir);
        return LDG_EEXIST;
    }
    rc = ldg_key_generate(&key, LDG_LOG_KEY_NAME);
    if (rc < 0)
        return rc;
    rc = ldg_keyfile_write(dir, key, err, errcap);
    if (rc < 0)
        goto out;
    created = 1;
    rc = open_handle(&l, dir, opts, 1, err, errcap);
    if (rc < 0)
        goto out;
    memcpy(l->origin, origin, strlen(origin) + 1);
    l->log_key = key;
    key = NULL;
    rc = ldg_txn_begin(l, LDG_TXN_WRITE, &t);
    if (rc < 0)
        goto out;
    memcpy(fmt, META_FORMAT_MAGIC, 4);
    fmt[4] = fmt[5] = fmt[6] = 0;
    fmt[7] = LDG_FORMAT_VERSION;
    rc = meta_put(t, "format", fmt, 8);
    if (rc == 0)
        rc = meta_put(t, "origin", origin, strlen(origin));
    if (rc == 0)
        rc = meta_put(t, "log_key", l->log_key->pub, 32);
    if (rc == 0)
        rc = ldg_txn_commit(t);
    else
        ldg_txn_abort(t);
    t = NULL;
    if (rc == 0)
        rc = write_genesis(l);
    if (rc < 0)
        snprintf(err, errcap, "cannot initialise %s: %s", dir,
                 l->errmsg[0] ? l->errmsg : ldg_strerror(rc));
out:
    ldg_key_free(key);
    ldg_close(l);
    if (rc < 0 && created) {
        /* Nothing half-made stays behind: init can simply be run again. */
        static const char *const files[] = {"data.mdb", "lock.mdb",
                                            "keys/log.key"};
        for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
            snprintf(path, sizeof path, "%s/%s", dir, files[i]);
            unlink(path);
        }
        snprintf(path, sizeof path, "%s/keys", dir);
        rmdir(path);
    }
    return rc;
}

/* ------------------------------------------------------ key commands -- */

int
ldg_keys_add(struct ldg_ledger *l, const char *name, const char *roles,
             uint64_t *seq_out)
{
    struct ldg_key *k = NULL;
    struct ldg_event_in in;
    char hex[65], err[512], path[4300];
    json_t *body = NULL, *rl = NULL;
    int rc;

    if (!ldg_key_name_valid(name)) {
        ldg_seterr(l, "invalid key name '%s': use 1-%d of A-Z a-z 0-9 . _ -",
                   name ? name : "", LDG_NAME_MAX);
        return LDG_EINVAL;
    }
    if (strcmp(name, LDG_LOG_KEY_NAME) == 0) {
        ldg_seterr(l, "the name 'log' is the log key's");
        return LDG_EEXIST;
    }
    if ((rc = need_log_secret(l)) < 0)
        return rc;
    if ((rc = ldg_key_generate(&k, name)) < 0)
        return rc;
    rl = json_array();
    if (roles != NULL && *roles) {
        char *dup = strdup(roles), *save = NULL;
        for (char *r = strtok_r(dup, ",", &save); r;
             r = strtok_r(NULL, ",", &save))
            json_array_append_new(rl, json_string(r));
        free(dup);
    }
    /* checked before the key file is written */
    if (ldg_roles_check(rl, err, sizeof err) < 0) {
        const char *why = strstr(err, "unknown role");
        ldg_seterr(l, "--roles: %s", why ? why : err);
        json_decref(rl);
        rc = LDG_EINVAL;
        goto out;
    }
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
        ldg_seterr(l, "%s", err);
        goto out;
    }
    memset(&in, 0, sizeof in);
    in.type = "key.added";
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

/* A revoked key signs nothing more: its secret is overwritten with zeros,
 * synced and unlinked, so no copy stays on disk under its name. (On a
 * copy-on-write or flash file system old blocks may survive below the
 * file system; the file is gone either way.) */
static int
wipe_keyfile(struct ldg_ledger *l, const char *name)
{
    char path[4300];
    uint8_t zero[512];
    struct stat st;
    int fd, rc = 0;

    snprintf(path, sizeof path, "%s/keys/%s.key", l->dir, name);
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
    in.type = "key.revoked";
    in.body = body;
    rc = ldg_append(l, &in, seq_out);
    json_decref(body);
    if (rc == 0)
        rc = wipe_keyfile(l, name);
    return rc;
}

/* -------------------------------------------------------------- stats -- */

int
ldg_stats(struct ldg_ledger *l, struct ldg_stats *st)
{
    struct ldg_txn *t;
    struct ldg_event ev;
    struct stat sb;
    char path[4200];
    int rc;

    memset(st, 0, sizeof *st);
    rc = ldg_txn_begin(l, LDG_TXN_READ, &t);
    if (rc < 0)
        return rc;
    rc = ldg_txn_size(t, &st->events);
    if (rc == 0)
        rc = ldg_db_count(t, core(l, LDG_DB_BODIES), &st->bodies);
    if (rc == 0)
        rc = ldg_db_count(t, core(l, LDG_DB_CHECKPOINTS), &st->checkpoints);
    if (rc == 0)
        rc = ldg_db_bytes(t, core(l, LDG_DB_ENTRIES), &st->entry_bytes);
    if (rc == 0)
        rc = ldg_db_bytes(t, core(l, LDG_DB_BODIES), &st->body_bytes);
    if (rc == 0) {
        uint64_t n = 0;
        rc = ldg_db_count(t, core(l, LDG_DB_KEYS), &n);
        st->keys = n; /* corrected below: records are id: and name: */
    }
    if (rc == 0 && st->events > 0) {
        rc = ldg_event_get(t, 0, &ev);
        if (rc == 0) {
            st->first_ts = ev.ts_ns;
            memcpy(st->first_type, ev.type, sizeof ev.type);
            rc = ldg_event_get(t, st->events - 1, &ev);
        }
        if (rc == 0) {
            st->last_ts = ev.ts_ns;
            memcpy(st->last_type, ev.type, sizeof ev.type);
        }
    }
    ldg_txn_abort(t);
    if (rc == 0) {
        struct ldg_keyinfo *ki;
        size_t nk;
        if (ldg_keys_list(l, &ki, &nk) == 0) {
            st->keys = nk;
            free(ki);
        }
        snprintf(path, sizeof path, "%s/data.mdb", l->dir);
        if (stat(path, &sb) == 0)
            st->file_bytes = (uint64_t)sb.st_size;
        st->map_bytes = ldg_store_map_size(l->store);
    }
    return rc;
}
