/*
 * witness.c — a C2SP tlog-witness (c2sp.org/tlog-witness): for each log
 * origin it trusts, it keeps the latest checkpoint it cosigned, and
 * cosigns a new one only with a valid consistency proof from it. No HTTP
 * here (witness_http.c serves this); no crypto of its own (ledger/: notes,
 * proofs, cosignatures).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fleet/fleet.h"
#include "fleet/fleet_int.h"
#include "ledger/module.h"
#include "util/util.h"

/*
 * Durability with group commit. Each accepted checkpoint is written to its
 * state file (temporary name, rename; no fsync) and appended to
 * DIR/journal as "ldgwj1 <length>\n" followed by the note. A request is
 * answered only once an fdatasync of the journal covering its record has
 * returned; concurrent requests share one fdatasync (the first waiter
 * syncs for everyone who appended before it started). At open the journal
 * is replayed (a state file older than a journal record is rewritten,
 * durably), then emptied; past 16 MiB it is emptied after a syncfs made
 * every state file durable. A state file may be ahead of the journal after
 * a crash (written back by the kernel, never answered): it still only
 * holds a checkpoint that passed every check.
 */
#define JOURNAL_MAX (16u << 20)

struct trusted {
    char origin[LDG_ORIGIN_MAX + 1];
    uint8_t pub[32];
};

struct ldg_witness {
    char dir[4096];
    char name[LDG_ORIGIN_MAX + 1];
    char vkey[LDG_ORIGIN_MAX + 64];
    struct ldg_key *key;
    struct trusted *trust;
    size_t ntrust;
    pthread_mutex_t lock;
    /* group commit (see journal_commit) */
    pthread_cond_t synced_cv;
    int jfd;              /* DIR/journal, O_APPEND */
    uint64_t jbytes;      /* its size */
    uint64_t gen_written; /* records appended */
    uint64_t gen_synced;  /* records known durable */
    int syncing;
};

static int journal_open(struct ldg_witness *w, char *err, size_t errcap);

int
ldg_witness_init(const char *dir, const char *name, char *vkey, size_t cap,
                 char *err, size_t errcap)
{
    char path[4200];
    uint8_t seed[32];
    struct ldg_key *k = NULL;
    int rc;

    if (dir == NULL || name == NULL || vkey == NULL)
        return LDG_EINVAL;
    if (!ldg_fleet_name_ok(name))
        return ldg_errf(err, errcap, LDG_EBADINPUT,
                        "witness name '%s' is not a valid key name (no spaces, "
                        "no '+')",
                        name);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return ldg_errf(err, errcap, LDG_EIO, "%s: %s", dir, strerror(errno));
    {
        /* the secret goes in a directory that is this user's alone: in
         * one others may write, they could take or swap the key file */
        struct stat ds;
        if (lstat(dir, &ds) != 0 || !S_ISDIR(ds.st_mode))
            return ldg_errf(err, errcap, LDG_EIO, "%s: not a directory", dir);
        if (ds.st_uid != geteuid() || (ds.st_mode & 022) != 0)
            return ldg_errf(err, errcap, LDG_EKEY,
                            "%s: a witness key is kept in a directory that is "
                            "this user's and no one else may write (it is "
                            "uid %u's, mode %o): use another, or chmod "
                            "go-w it",
                            dir, (unsigned)ds.st_uid,
                            (unsigned)(ds.st_mode & 07777));
    }
    snprintf(path, sizeof path, "%s/witness.key", dir);
    if (access(path, F_OK) == 0)
        return ldg_errf(err, errcap, LDG_EEXIST,
                        "%s already exists: this directory holds a "
                        "witness",
                        path);
    if (getrandom(seed, sizeof seed, 0) != (ssize_t)sizeof seed)
        return ldg_errf(err, errcap, LDG_EIO, "no randomness: %s",
                        strerror(errno));
    rc = ldg_key_from_seed(&k, "witness", seed);
    if (rc == 0)
        rc = ldg_fleet_write_file(dir, "witness.key", seed, sizeof seed, 0600,
                                  err, errcap);
    explicit_bzero(seed, sizeof seed);
    if (rc == 0) {
        char line[LDG_ORIGIN_MAX + 2];
        int n = snprintf(line, sizeof line, "%s\n", name);
        rc = ldg_fleet_write_file(dir, "witness.name", line, (size_t)n, 0644,
                                  err, errcap);
    }
    if (rc == 0 && ldg_cosig_verifier(vkey, cap, name, k->pub) < 0)
        rc = LDG_EINVAL;
    ldg_key_free(k);
    return rc;
}

static int
load_key(struct ldg_witness *w, char *err, size_t errcap)
{
    char path[4200], *nm = NULL;
    uint8_t seed[33];
    size_t n = 0;
    struct stat st;
    int rc;

    snprintf(path, sizeof path, "%s/witness.key", w->dir);
    if (lstat(path, &st) < 0)
        return ldg_errf(err, errcap, LDG_ENOTFOUND,
                        "%s: %s (create the witness with `" LDG_CMD_WITNESS_INIT
                        "`)",
                        path, strerror(errno));
    if ((st.st_mode & 077) != 0)
        return ldg_errf(err, errcap, LDG_EKEY,
                        "%s: mode %o lets others read the witness key; "
                        "chmod 600 it",
                        path, (unsigned)(st.st_mode & 0777));
    if (!S_ISREG(st.st_mode) || st.st_uid != geteuid())
        return ldg_errf(err, errcap, LDG_EKEY,
                        "%s: not a regular file of this user's (uid %u's): "
                        "a key another user made or links to is not ours",
                        path, (unsigned)st.st_uid);
    rc = ldg_fleet_read_file(path, 33, (char **)&nm, &n);
    if (rc < 0 || n != 32) {
        ldg_errf(err, errcap, 0, "%s: not a 32-byte witness key", path);
        free(nm);
        return rc < 0 ? rc : LDG_EKEY;
    }
    memcpy(seed, nm, 32);
    explicit_bzero(nm, n);
    free(nm);
    rc = ldg_key_from_seed(&w->key, "witness", seed);
    explicit_bzero(seed, sizeof seed);
    if (rc < 0)
        return rc;
    snprintf(path, sizeof path, "%s/witness.name", w->dir);
    rc = ldg_fleet_read_file(path, LDG_ORIGIN_MAX + 2, &nm, &n);
    if (rc < 0)
        return ldg_errf(err, errcap, rc, "%s: cannot read the witness name",
                        path);
    while (n > 0 && nm[n - 1] == '\n')
        nm[--n] = '\0';
    if (n == 0 || n > LDG_ORIGIN_MAX || !ldg_fleet_name_ok(nm)) {
        ldg_errf(err, errcap, 0, "%s: not a valid key name", path);
        free(nm);
        return LDG_ECORRUPT;
    }
    memcpy(w->name, nm, n + 1);
    free(nm);
    ldg_cosig_verifier(w->vkey, sizeof w->vkey, w->name, w->key->pub);
    return 0;
}

int
ldg_witness_open(struct ldg_witness **out, const char *dir,
                 const char *const *trust, size_t ntrust, char *err,
                 size_t errcap)
{
    struct ldg_witness *w;
    char sub[4200];
    int rc;

    if (out == NULL || dir == NULL || (ntrust > 0 && trust == NULL))
        return LDG_EINVAL;
    *out = NULL;
    if (strlen(dir) >= sizeof w->dir - 64)
        return ldg_errf(err, errcap, LDG_EINVAL, "%s: path too long", dir);
    w = calloc(1, sizeof *w);
    if (w == NULL)
        return LDG_ENOMEM;
    snprintf(w->dir, sizeof w->dir, "%s", dir);
    w->jfd = -1;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->synced_cv, NULL);
    rc = load_key(w, err, errcap);
    if (rc < 0)
        goto fail;
    w->trust = calloc(ntrust ? ntrust : 1, sizeof *w->trust);
    if (w->trust == NULL) {
        rc = LDG_ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < ntrust; i++) {
        struct trusted *t = &w->trust[w->ntrust];
        LDG_ASSERT(w->ntrust == i && i < ntrust);
        if (ldg_note_parse_verifier(trust[i], t->origin, sizeof t->origin,
                                    t->pub) < 0) {
            ldg_errf(err, errcap, 0,
                     LDG_OPT_TRUST " '%s': not a log verifier key (the line "
                                   "`" LDG_CMD_KEYS_VERIFIER
                                   "` prints: origin+id+key)",
                     trust[i]);
            rc = LDG_EBADINPUT;
            goto fail;
        }
        w->ntrust++;
    }
    for (const char *s = "state"; s;
         s = strcmp(s, "state") ? NULL : "refused") {
        snprintf(sub, sizeof sub, "%s/%s", dir, s);
        if (mkdir(sub, 0700) < 0 && errno != EEXIST) {
            ldg_errf(err, errcap, 0, "%s: %s", sub, strerror(errno));
            rc = LDG_EIO;
            goto fail;
        }
    }
    rc = journal_open(w, err, errcap);
    if (rc < 0)
        goto fail;
    *out = w;
    return 0;
fail:
    ldg_witness_free(w);
    return rc;
}

void
ldg_witness_free(struct ldg_witness *w)
{
    if (w == NULL)
        return;
    ldg_key_free(w->key);
    free(w->trust);
    if (w->jfd >= 0)
        close(w->jfd);
    pthread_cond_destroy(&w->synced_cv);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

const char *
ldg_witness_vkey(const struct ldg_witness *w)
{
    return w->vkey;
}

void
ldg_witness_reply_release(struct ldg_witness_reply *r)
{
    if (r == NULL)
        return;
    free(r->body);
    r->body = NULL;
}

static int reply(struct ldg_witness_reply *r, int status, const char *ctype,
                 const char *body, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int
reply(struct ldg_witness_reply *r, int status, const char *ctype,
      const char *body, const char *fmt, ...)
{
    va_list ap;

    r->status = status;
    r->ctype = ctype;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof r->why, fmt, ap);
    va_end(ap);
    if (body == NULL) {
        /* Errors other than 409 carry the reason as plain text. */
        size_t n = strlen(r->why);
        r->body = malloc(n + 2);
        if (r->body == NULL)
            return LDG_ENOMEM;
        memcpy(r->body, r->why, n);
        r->body[n] = '\n';
        r->body[n + 1] = '\0';
        r->body_len = n + 1;
        r->ctype = "text/plain; charset=utf-8";
        return 0;
    }
    r->body = strdup(body);
    if (r->body == NULL)
        return LDG_ENOMEM;
    r->body_len = strlen(body);
    return 0;
}

static void
origin_file(const struct ldg_witness *w, const char *origin, char *path,
            size_t cap)
{
    uint8_t h[32];
    char hex[65];

    ldg_sha256(h, origin, strlen(origin));
    ldg_hex(hex, h, 32);
    snprintf(path, cap, "%s/state/%s", w->dir, hex);
}

/* The stored checkpoint for origin: *size and root, or *size 0 and
 * *have 0 if none. A stored note is our own record, re-parsed as such. */
static int
load_state(const struct ldg_witness *w, const char *origin, uint64_t *size,
           uint8_t root[32], int *have)
{
    char path[4400], o[LDG_ORIGIN_MAX + 1], *note = NULL;
    size_t n = 0, tlen;
    int rc;

    *size = 0;
    *have = 0;
    origin_file(w, origin, path, sizeof path);
    rc = ldg_fleet_read_file(path, LDG_WITNESS_BODY_MAX, &note, &n);
    if (rc == LDG_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    rc = ldg_fleet_note_text_len(note, n, &tlen);
    if (rc == 0)
        rc = ldg_checkpoint_parse(note, tlen, o, sizeof o, size, root);
    free(note);
    if (rc < 0 || strcmp(o, origin) != 0)
        return LDG_ECORRUPT;
    *have = 1;
    return 0;
}

static void
keep_refused(const struct ldg_witness *w, const char *origin, const char *body,
             size_t len, uint64_t now_s)
{
    char name[200];
    uint8_t h[32];
    char hex[65];

    ldg_sha256(h, origin, strlen(origin));
    ldg_hex(hex, h, 32);
    snprintf(name, sizeof name, "refused/%llu-%.16s-%u",
             (unsigned long long)now_s, hex, (unsigned)(len & 0xffff));
    (void)ldg_fleet_write_file(w->dir, name, body, len, 0600, NULL, 0);
}

static int
journal_append(struct ldg_witness *w, const char *note, size_t len, char *err,
               size_t errcap)
{
    char head[64];
    int hl = snprintf(head, sizeof head, "ldgwj1 %zu\n", len);
    struct iovec iov[2] = {{head, (size_t)hl}, {(void *)(uintptr_t)note, len}};
    ssize_t want = hl + (ssize_t)len, got = writev(w->jfd, iov, 2);

    if (got != want) {
        snprintf(err, errcap, "%s/journal: %s", w->dir,
                 got < 0 ? strerror(errno) : "short write");
        return LDG_EIO;
    }
    w->jbytes += (uint64_t)want;
    w->gen_written++;
    return 0;
}

/* Called with w->lock held; returns with it held, once every record
 * appended so far is durable. */
static int
journal_commit(struct ldg_witness *w, char *err, size_t errcap)
{
    uint64_t mine = w->gen_written;

    while (w->gen_synced < mine) {
        if (!w->syncing) {
            uint64_t target = w->gen_written;
            int rc;
            w->syncing = 1;
            pthread_mutex_unlock(&w->lock);
            rc = fdatasync(w->jfd);
            pthread_mutex_lock(&w->lock);
            w->syncing = 0;
            pthread_cond_broadcast(&w->synced_cv);
            if (rc < 0) {
                snprintf(err, errcap, "%s/journal: fdatasync: %s", w->dir,
                         strerror(errno));
                return LDG_EIO;
            }
            if (target > w->gen_synced)
                w->gen_synced = target;
        } else {
            pthread_cond_wait(&w->synced_cv, &w->lock);
        }
    }
    if (w->jbytes > JOURNAL_MAX && !w->syncing) {
        /* every state file durable, then the journal can go */
        int dfd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0 && syncfs(dfd) == 0 && ftruncate(w->jfd, 0) == 0 &&
            fdatasync(w->jfd) == 0)
            w->jbytes = 0;
        if (dfd >= 0)
            close(dfd);
    }
    return 0;
}

/* Replays DIR/journal into the state files, durably, then empties it. A
 * torn last record (a crash mid-append) was never answered: ignored. */
static int
journal_open(struct ldg_witness *w, char *err, size_t errcap)
{
    char path[4200], *j = NULL;
    size_t n = 0, off = 0;
    int rc;

    snprintf(path, sizeof path, "%s/journal", w->dir);
    rc = ldg_fleet_read_file(path, (size_t)JOURNAL_MAX * 4, &j, &n);
    if (rc < 0 && rc != LDG_ENOTFOUND) {
        snprintf(err, errcap, "%s: cannot read", path);
        return rc;
    }
    while (j != NULL && off < n) {
        char o[LDG_ORIGIN_MAX + 1], sp[4400];
        uint64_t size, held;
        uint8_t root[32], hroot[32];
        size_t len, tlen;
        int have;
        char *nl = memchr(j + off, '\n', n - off), *end;
        if (nl == NULL || strncmp(j + off, "ldgwj1 ", 7) != 0)
            break;
        len = strtoull(j + off + 7, &end, 10);
        if (end != nl || len > n - (size_t)(nl + 1 - j))
            break;
        off = (size_t)(nl + 1 - j);
        if (ldg_fleet_note_text_len(j + off, len, &tlen) == 0 &&
            ldg_checkpoint_parse(j + off, tlen, o, sizeof o, &size, root) ==
                0 &&
            load_state(w, o, &held, hroot, &have) == 0 &&
            (!have || size > held)) {
            origin_file(w, o, sp, sizeof sp);
            rc = ldg_fleet_write_file(w->dir, sp + strlen(w->dir) + 1, j + off,
                                      len, 0600, err, errcap);
            if (rc < 0) {
                free(j);
                return rc;
            }
        }
        off += len;
    }
    free(j);
    /* the state files written before the last run's end: durable now */
    {
        int dfd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            rc = syncfs(dfd);
            close(dfd);
            if (rc < 0) {
                snprintf(err, errcap, "%s: syncfs: %s", w->dir,
                         strerror(errno));
                return LDG_EIO;
            }
        }
    }
    w->jfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW,
                  0600);
    if (w->jfd < 0 || ftruncate(w->jfd, 0) < 0 || fdatasync(w->jfd) < 0) {
        snprintf(err, errcap, "%s: %s", path, strerror(errno));
        return LDG_EIO;
    }
    return 0;
}

int
ldg_witness_add_checkpoint(struct ldg_witness *w, const char *body, size_t len,
                           uint64_t now_s, struct ldg_witness_reply *r)
{
    uint8_t proof[LDG_PROOF_MAX][32], root[32], held_root[32];
    char origin[LDG_ORIGIN_MAX + 1], size_txt[32], path[4400], *line = NULL;
    const char *ck = NULL;
    size_t n = 0, cklen = 0, tlen = 0;
    uint64_t old = 0, size = 0, held = 0;
    int known = 0, signed_ok = 0, have = 0, rc;

    if (w == NULL || r == NULL || (body == NULL && len > 0))
        return LDG_EINVAL;
    memset(r, 0, sizeof *r);
    if (len > LDG_WITNESS_BODY_MAX)
        return reply(r, 400, NULL, NULL,
                     "request of %zu bytes is over the "
                     "%d-byte limit",
                     len, LDG_WITNESS_BODY_MAX);
    if (ldg_tlog_consistency_parse(body, len, &old, proof, &n, &ck, &cklen) <
            0 ||
        ldg_fleet_note_text_len(ck, cklen, &tlen) < 0 ||
        ldg_checkpoint_parse(ck, tlen, origin, sizeof origin, &size, root) < 0)
        return reply(r, 400, NULL, NULL,
                     "malformed add-checkpoint body (want \"old N\", proof "
                     "lines, an empty line, a signed checkpoint)");
    for (size_t i = 0; i < w->ntrust; i++) {
        size_t tl;
        if (strcmp(w->trust[i].origin, origin) != 0)
            continue;
        known = 1;
        if (ldg_note_verify(ck, cklen, origin, w->trust[i].pub, &tl) == 0)
            signed_ok = 1;
    }
    if (!known)
        return reply(r, 404, NULL, NULL, "unknown origin '%s'", origin);
    if (!signed_ok)
        return reply(r, 403, NULL, NULL,
                     "%s: no signature by a trusted key of this log", origin);
    if (old > size)
        return reply(r, 400, NULL, NULL,
                     "%s: old size %llu is above the checkpoint's size %llu",
                     origin, (unsigned long long)old, (unsigned long long)size);

    pthread_mutex_lock(&w->lock);
    rc = load_state(w, origin, &held, held_root, &have);
    if (rc < 0) {
        rc = reply(r, 500, NULL, NULL, "%s: stored checkpoint unreadable: %s",
                   origin, ldg_strerror(rc));
        goto out;
    }
    snprintf(size_txt, sizeof size_txt, "%llu\n", (unsigned long long)held);
    if (old != held) {
        if (size < held)
            rc = reply(r, 409, "text/x.tlog.size", size_txt,
                       "%s: rollback refused: checkpoint size %llu (old %llu) "
                       "is below the size %llu this witness cosigned",
                       origin, (unsigned long long)size,
                       (unsigned long long)old, (unsigned long long)held);
        else
            rc = reply(r, 409, "text/x.tlog.size", size_txt,
                       "%s: old size %llu is not %llu, the size this witness "
                       "cosigned last",
                       origin, (unsigned long long)old,
                       (unsigned long long)held);
        goto out;
    }
    if (!have) {
        static const uint8_t empty[32] = {
            0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4,
            0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b,
            0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55};
        memcpy(held_root, empty, 32);
    }
    if (old == size && memcmp(held_root, root, 32) != 0) {
        char a[45], b[45];
        ldg_base64(a, held_root, 32);
        ldg_base64(b, root, 32);
        keep_refused(w, origin, body, len, now_s);
        rc = reply(r, 409, "text/x.tlog.size", size_txt,
                   "%s: fork refused: size %llu has root %s here but the "
                   "checkpoint says %s",
                   origin, (unsigned long long)size, a, b);
        goto out;
    }
    if (ldg_tlog_verify_consistency(old, size, held_root, root,
                                    (const uint8_t(*)[32])proof, n) < 0) {
        char a[45], b[45];
        ldg_base64(a, held_root, 32);
        ldg_base64(b, root, 32);
        keep_refused(w, origin, body, len, now_s);
        rc = reply(r, 422, NULL, NULL,
                   "%s: consistency proof from size %llu (root %s) to size "
                   "%llu (root %s) does not verify: refused (a rewritten "
                   "history?)",
                   origin, (unsigned long long)old, a, (unsigned long long)size,
                   b);
        goto out;
    }
    /* Persist before answering (the spec's MUST): the state file and a
     * journal record now, under the lock; the answer after the group's
     * fdatasync (journal_commit). */
    origin_file(w, origin, path, sizeof path);
    rc = ldg_fleet_put_file(w->dir, path + strlen(w->dir) + 1, ck, cklen,
                            r->why, sizeof r->why);
    if (rc == 0)
        rc = journal_append(w, ck, cklen, r->why, sizeof r->why);
    if (rc == 0)
        rc = journal_commit(w, r->why, sizeof r->why);
    if (rc < 0) {
        char why[sizeof r->why];
        memcpy(why, r->why, sizeof why);
        rc = reply(r, 500, NULL, NULL, "%s: cannot store the checkpoint: %s",
                   origin, why);
        goto out;
    }
    rc = ldg_cosig_sign(&line, ck, tlen, w->name, w->key, now_s);
    if (rc < 0) {
        rc = reply(r, 500, NULL, NULL, "%s: cannot cosign: %s", origin,
                   ldg_strerror(rc));
        goto out;
    }
    rc = reply(r, 200, "text/plain; charset=utf-8", line,
               "%s: cosigned size %llu (from %llu)", origin,
               (unsigned long long)size, (unsigned long long)old);
out:
    pthread_mutex_unlock(&w->lock);
    free(line);
    return rc;
}
