/*
 * peer_sqlite.c — the peer a user might pick instead of the ledger: one
 * SQLite table in WAL mode with synchronous=FULL, each row signed with
 * Ed25519 and hash-chained to the one before, with the usual indexes.
 *
 *   peer_sqlite ingest DB FILE [--batch 1000] [--threads T] [--sign row|batch]
 *   peer_sqlite append DB TYPE JSON_BODY [--sign row|batch]
 *   peer_sqlite get DB SEQ
 *   peer_sqlite query-run DB RUN [--count]
 *   peer_sqlite scan-time DB FROM_NS TO_NS [--count]
 *   peer_sqlite scan-body DB FIELD VALUE [--count]
 *   peer_sqlite verify DB [--threads T]
 *   peer_sqlite info DB
 *
 * Each mode prints one machine-readable figure line on stderr, e.g.
 *   peer_sqlite ingest events=1000000 secs=31.2 eps=32051 maxrss_kb=20480
 * Query modes print the matching rows on stdout as JSON Lines (as
 * `ledger query -o json` does) unless --count is given.
 *
 * Per event, ingest does the same kinds of work as the ledger: parse the
 * JSON line (jansson), serialize the body canonically (sorted keys,
 * compact), derive subject and run like VOCABULARY.md says, sign, chain,
 * and insert into an indexed table, committing every --batch rows.
 *
 * Row bytes R, what is signed and what is chained:
 *
 *   R   = seq (u64 BE) ‖ ts_ns (u64 BE) ‖ type 0x00 ‖ subject 0x00 ‖
 *         run 0x00 ‖ actor 0x00 ‖ canonical body JSON
 *   sig = Ed25519(sk, "peer-sqlite/event/v1" 0x00 ‖ R)
 *   hash = SHA-256(prev ‖ R ‖ sig)         (prev: 32 zero bytes for seq 0)
 *
 * The signature does not cover prev. That is what lets signing run ahead
 * of chaining on other threads; the chain still covers every signature.
 *
 * --sign batch (issue 12's second peer: what a user builds once per-row
 * signatures are dropped): the same rows, hash-chained, and one Ed25519
 * signature per transaction over the chain head it ends at:
 *
 *   hash = SHA-256(prev ‖ R)
 *   seal = Ed25519(sk, "peer-sqlite/batch/v1" 0x00 ‖ first (u64 BE) ‖
 *                      count (u64 BE) ‖ hash of the transaction's last row)
 *
 * stored in a table seals(last_seq, first_seq, head, sig) in the same
 * transaction; the events table has no sig column. The mode is chosen when
 * the database is created (meta 'signing') and kept: ingest and append into
 * an existing database use its mode. verify re-hashes the chain (every
 * stored prev and hash) and checks one signature per transaction; get SEQ
 * re-hashes from SEQ to its transaction's end and checks that signature.
 *
 * Threads (--threads T, default: online CPUs). T = 1 is the simple version:
 * one loop reads, parses, signs, chains and inserts. T >= 2 is a pipeline:
 * the main thread reads lines and stamps seq and ts, T-1 worker threads
 * parse, serialize and sign whole batches, and one writer thread chains and
 * inserts them in order. verify with T >= 2: the main thread reads rows and
 * checks the chain, T threads check signatures.
 *
 * The key is derived from a fixed seed so runs are comparable; its public
 * half is stored in the meta table and verify checks against that.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <nettle/sha2.h>
#include <sodium.h>
#include <sqlite3.h>

#define SIG_CTX "peer-sqlite/event/v1"
#define SEAL_CTX "peer-sqlite/batch/v1"
#define SEAL_MSG_LEN (sizeof SEAL_CTX + 8 + 8 + 32) /* with the NUL */
#define SIG_CTX_LEN (sizeof SIG_CTX)                /* with its NUL */
#define KEY_SEED_TEXT "peer-sqlite benchmark key v1"
#define BATCH_DEFAULT 1000
#define HDR_LEN 16 /* seq and ts in R */

struct keypair {
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char *sk; /* sodium_malloc'd */
    char actor[17];    /* hex of SHA-256(pk)[0:8] */
};

/* A growing byte buffer; batches keep theirs between uses. */
struct buf {
    char *p;
    size_t len, cap;
};

/* One event in a batch. Offsets point into the batch's buffers. */
struct row {
    uint64_t seq, ts_ns;
    size_t line_off, line_len; /* raw input line, in batch.lines */
    size_t msg_off, msg_len;   /* SIG_CTX ‖ R, in batch.msgs */
    /* offsets of the NUL-terminated fields inside R (relative to msg_off) */
    size_t type_at, subject_at, run_at, actor_at, body_at;
    unsigned char sig[crypto_sign_BYTES];
    unsigned char prev[32], hash[32]; /* verify: as stored */
};

struct batch {
    int stage; /* 0 free, 1 filled, 2 processed */
    size_t n, cap;
    struct row *rows;
    struct buf lines, msgs;
};

/* A ring of batches passed from a producer through workers, optionally to
 * an in-order consumer. */
struct ring {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct batch *slots;
    unsigned nslots;
    uint64_t produced, claimed;
    int done;         /* producer finished */
    int has_consumer; /* workers leave stage 2 for a consumer, else 0 */
    void (*work)(struct batch *b, void *ctx);
    void *ctx;
};

static const char *prog = "peer_sqlite";

/* How rows are signed: one signature each, or one per transaction. */
enum sign_mode { SIGN_ROW, SIGN_BATCH };

__attribute__((format(printf, 1, 2), noreturn)) static void
die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static double
now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint64_t
realtime_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static long
maxrss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void *
xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q)
        die("out of memory (%zu bytes)", n);
    return q;
}

static void
buf_reserve(struct buf *b, size_t more)
{
    if (b->cap - b->len >= more)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < more)
        cap *= 2;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
}

static void
buf_add(struct buf *b, const void *p, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void
buf_addstr0(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s) + 1);
}

static void
put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)v;
        v >>= 8;
    }
}

static void
key_load(struct keypair *k)
{
    unsigned char seed[crypto_sign_SEEDBYTES], h[32];
    k->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    if (!k->sk)
        die("sodium_malloc failed for the secret key");
    crypto_hash_sha256(seed, (const unsigned char *)KEY_SEED_TEXT,
                       strlen(KEY_SEED_TEXT));
    crypto_sign_seed_keypair(k->pk, k->sk, seed);
    sodium_memzero(seed, sizeof seed);
    crypto_hash_sha256(h, k->pk, sizeof k->pk);
    sodium_bin2hex(k->actor, sizeof k->actor, h, 8);
}

static void
key_release(struct keypair *k)
{
    sodium_free(k->sk);
    k->sk = NULL;
}

/* ------------------------------------------------------------- sqlite -- */

static void
exec_sql(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        die("sqlite: %s: %s", sql, err ? err : sqlite3_errmsg(db));
}

static sqlite3_stmt *
prepare(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        die("sqlite: preparing \"%s\": %s", sql, sqlite3_errmsg(db));
    return st;
}

/* The database's signing mode (meta 'signing'); a database from before
 * the mode existed has per-row signatures. */
static enum sign_mode
db_mode(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    enum sign_mode m = SIGN_ROW;
    if (sqlite3_prepare_v2(db, "SELECT v FROM meta WHERE k='signing'", -1, &st,
                           NULL) != SQLITE_OK)
        return SIGN_ROW; /* no meta table yet */
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        if (v && !strcmp(v, "batch"))
            m = SIGN_BATCH;
        else if (!v || strcmp(v, "row"))
            die("meta 'signing' is '%s', not row or batch", v ? v : "");
    }
    sqlite3_finalize(st);
    return m;
}

static int
db_has_table(sqlite3 *db, const char *name)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT 1 FROM sqlite_master WHERE type='table' "
                           "AND name=?1",
                           -1, &st, NULL) != SQLITE_OK)
        die("sqlite: %s", sqlite3_errmsg(db));
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int has = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return has;
}

/* Opens the database. A writer creates the schema for the mode `want` if
 * the database is new, else keeps the mode it was made with. *mode (if not
 * NULL) gets the database's mode. */
static sqlite3 *
db_open(const char *path, int readonly, enum sign_mode want,
        enum sign_mode *mode)
{
    sqlite3 *db = NULL;
    int flags = readonly ? SQLITE_OPEN_READONLY
                         : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK)
        die("opening %s: %s", path, db ? sqlite3_errmsg(db) : "no memory");
    sqlite3_busy_timeout(db, 10000);
    /* WAL + FULL: every commit is durable (the WAL is fsynced on commit).
     * A 64 MiB page cache, as someone tuning for bulk load would set. */
    exec_sql(db, "PRAGMA cache_size=-65536");
    if (!readonly) {
        exec_sql(db, "PRAGMA journal_mode=WAL");
        exec_sql(db, "PRAGMA synchronous=FULL");
        int fresh = !db_has_table(db, "events");
        exec_sql(db, "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, "
                     "v BLOB)");
        enum sign_mode m = db_mode(db);
        if (fresh) {
            m = want;
            exec_sql(db, m == SIGN_BATCH ? "INSERT OR REPLACE INTO meta(k, v) "
                                           "VALUES('signing', 'batch')"
                                         : "INSERT OR REPLACE INTO meta(k, v) "
                                           "VALUES('signing', 'row')");
        }
        if (m == SIGN_BATCH)
            exec_sql(db, "CREATE TABLE IF NOT EXISTS events("
                         " seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL,"
                         " type TEXT NOT NULL, subject TEXT NOT NULL, run TEXT,"
                         " actor TEXT NOT NULL, body TEXT NOT NULL,"
                         " prev BLOB NOT NULL, hash BLOB NOT NULL);"
                         "CREATE TABLE IF NOT EXISTS seals("
                         " last_seq INTEGER PRIMARY KEY,"
                         " first_seq INTEGER NOT NULL,"
                         " head BLOB NOT NULL, sig BLOB NOT NULL);");
        else
            exec_sql(db, "CREATE TABLE IF NOT EXISTS events("
                         " seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL,"
                         " type TEXT NOT NULL, subject TEXT NOT NULL, run TEXT,"
                         " actor TEXT NOT NULL, body TEXT NOT NULL,"
                         " prev BLOB NOT NULL, hash BLOB NOT NULL,"
                         " sig BLOB NOT NULL)");
        if (mode)
            *mode = m;
        exec_sql(db, "CREATE INDEX IF NOT EXISTS events_type ON events(type);"
                     "CREATE INDEX IF NOT EXISTS events_subject ON "
                     "events(subject);"
                     "CREATE INDEX IF NOT EXISTS events_run ON events(run);"
                     "CREATE INDEX IF NOT EXISTS events_actor ON events(actor);"
                     "CREATE INDEX IF NOT EXISTS events_ts ON events(ts);");
    } else if (mode) {
        *mode = db_mode(db);
    }
    return db;
}

/* Stores the public key on first use; refuses a database made with
 * another key. */
static void
db_check_key(sqlite3 *db, const struct keypair *k, int readonly)
{
    sqlite3_stmt *st = prepare(db, "SELECT v FROM meta WHERE k='pubkey'");
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 0) != (int)sizeof k->pk ||
            memcmp(sqlite3_column_blob(st, 0), k->pk, sizeof k->pk))
            die("database was written with another key");
    } else if (rc == SQLITE_DONE && !readonly) {
        sqlite3_stmt *ins =
            prepare(db, "INSERT INTO meta(k, v) VALUES('pubkey', ?1)");
        sqlite3_bind_blob(ins, 1, k->pk, sizeof k->pk, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE)
            die("sqlite: storing the public key: %s", sqlite3_errmsg(db));
        sqlite3_finalize(ins);
    } else if (rc != SQLITE_DONE) {
        die("sqlite: reading meta: %s", sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
}

/* Next seq, and the hash of the last row (zeros if empty). */
static void
db_tail(sqlite3 *db, uint64_t *next_seq, unsigned char last_hash[32])
{
    sqlite3_stmt *st =
        prepare(db, "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1");
    int rc = sqlite3_step(st);
    memset(last_hash, 0, 32);
    *next_seq = 0;
    if (rc == SQLITE_ROW) {
        *next_seq = (uint64_t)sqlite3_column_int64(st, 0) + 1;
        if (sqlite3_column_bytes(st, 1) != 32)
            die("event %" PRIu64 ": stored hash is not 32 bytes",
                *next_seq - 1);
        memcpy(last_hash, sqlite3_column_blob(st, 1), 32);
    } else if (rc != SQLITE_DONE) {
        die("sqlite: reading the last event: %s", sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
}

/* --------------------------------------------------------------- rows -- */

static void
batch_reset(struct batch *b)
{
    b->n = 0;
    b->lines.len = 0;
    b->msgs.len = 0;
}

static struct row *
batch_push(struct batch *b)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 1024;
        b->rows = xrealloc(b->rows, b->cap * sizeof *b->rows);
    }
    struct row *r = &b->rows[b->n++];
    memset(r, 0, sizeof *r);
    return r;
}

static void
batch_release(struct batch *b)
{
    free(b->rows);
    free(b->lines.p);
    free(b->msgs.p);
}

/* Subject as VOCABULARY.md derives it: the first present of pack, model,
 * route, target (already kind:name), run, key_id, runtime. */
static void
derive_subject(const json_t *body, char *out, size_t cap)
{
    static const char *const fields[] = {"pack", "model",  "route",  "target",
                                         "run",  "key_id", "runtime"};
    static const char *const kinds[] = {"pack:", "model:", "route:",  "",
                                        "run:",  "key:",   "runtime:"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const char *v = json_string_value(json_object_get(body, fields[i]));
        if (v) {
            snprintf(out, cap, "%s%s", kinds[i], v);
            return;
        }
    }
    snprintf(out, cap, "host:local");
}

/* Appends SIG_CTX ‖ R for one event to b->msgs and fills r's offsets.
 * seq and ts_ns must be set. body is serialized canonically here. */
static void
build_msg(struct batch *b, struct row *r, const char *type, const char *subject,
          const char *run, const char *actor, const json_t *body)
{
    char *canon = json_dumps(body, JSON_SORT_KEYS | JSON_COMPACT);
    if (!canon)
        die("event %" PRIu64 ": cannot serialize the body", r->seq);
    struct buf *m = &b->msgs;
    unsigned char hdr[HDR_LEN];
    r->msg_off = m->len;
    buf_add(m, SIG_CTX, SIG_CTX_LEN);
    put_be64(hdr, r->seq);
    put_be64(hdr + 8, r->ts_ns);
    buf_add(m, hdr, sizeof hdr);
    r->type_at = m->len - r->msg_off;
    buf_addstr0(m, type);
    r->subject_at = m->len - r->msg_off;
    buf_addstr0(m, subject);
    r->run_at = m->len - r->msg_off;
    buf_addstr0(m, run);
    r->actor_at = m->len - r->msg_off;
    buf_addstr0(m, actor);
    r->body_at = m->len - r->msg_off;
    buf_addstr0(m, canon); /* the NUL is not part of R */
    r->msg_len = m->len - 1 - r->msg_off;
    free(canon);
}

/* Parses one input line {"type", "subject"?, "body"} into SIG_CTX ‖ R. */
static void
prepare_row(struct batch *b, struct row *r, const struct keypair *k)
{
    json_error_t jerr;
    json_t *ev = json_loadb(b->lines.p + r->line_off, r->line_len, 0, &jerr);
    if (!ev || !json_is_object(ev))
        die("event %" PRIu64 ": not a JSON object: %s", r->seq,
            ev ? "wrong type" : jerr.text);
    const char *type = json_string_value(json_object_get(ev, "type"));
    const char *subject = json_string_value(json_object_get(ev, "subject"));
    json_t *body = json_object_get(ev, "body");
    if (!type)
        die("event %" PRIu64 ": field 'type': required string", r->seq);
    if (body && !json_is_object(body))
        die("event %" PRIu64 ": field 'body': must be an object", r->seq);
    json_t *empty = body ? NULL : json_object();
    if (!body)
        body = empty;
    char derived[512];
    if (!subject) {
        derive_subject(body, derived, sizeof derived);
        subject = derived;
    }
    const char *run = json_string_value(json_object_get(body, "run"));
    build_msg(b, r, type, subject, run ? run : "", k->actor, body);
    json_decref(empty);
    json_decref(ev);
}

static void
sign_row(const struct batch *b, struct row *r, const struct keypair *k)
{
    crypto_sign_detached(r->sig, NULL,
                         (const unsigned char *)b->msgs.p + r->msg_off,
                         r->msg_len, k->sk);
}

/* hash = SHA-256(prev ‖ R ‖ sig), or SHA-256(prev ‖ R) when sig is NULL
 * (--sign batch) */
static void
chain_hash(unsigned char out[32], const unsigned char prev[32],
           const struct batch *b, const struct row *r, const unsigned char *sig)
{
    /* Nettle's SHA-256 (SHA-NI), the same implementation the ledger uses. */
    struct sha256_ctx st;
    sha256_init(&st);
    sha256_update(&st, 32, prev);
    sha256_update(&st, r->msg_len - SIG_CTX_LEN,
                  (const uint8_t *)b->msgs.p + r->msg_off + SIG_CTX_LEN);
    if (sig)
        sha256_update(&st, crypto_sign_BYTES, sig);
    sha256_digest(&st, 32, out);
}

/* SEAL_CTX ‖ first ‖ count ‖ head: what one transaction's signature covers
 * in --sign batch. */
static void
seal_msg(unsigned char out[SEAL_MSG_LEN], uint64_t first, uint64_t count,
         const unsigned char head[32])
{
    memcpy(out, SEAL_CTX, sizeof SEAL_CTX);
    put_be64(out + sizeof SEAL_CTX, first);
    put_be64(out + sizeof SEAL_CTX + 8, count);
    memcpy(out + sizeof SEAL_CTX + 16, head, 32);
}

/* --------------------------------------------------------------- ring -- */

static void
ring_init(struct ring *q, unsigned nslots, int has_consumer,
          void (*work)(struct batch *, void *), void *ctx)
{
    memset(q, 0, sizeof *q);
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    q->slots = calloc(nslots, sizeof *q->slots);
    if (!q->slots)
        die("out of memory");
    q->nslots = nslots;
    q->has_consumer = has_consumer;
    q->work = work;
    q->ctx = ctx;
}

static void
ring_release(struct ring *q)
{
    for (unsigned i = 0; i < q->nslots; i++)
        batch_release(&q->slots[i]);
    free(q->slots);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
}

/* Producer: the next free slot to fill (blocks while it is in use). */
static struct batch *
ring_acquire(struct ring *q)
{
    struct batch *b = &q->slots[q->produced % q->nslots];
    pthread_mutex_lock(&q->mu);
    while (b->stage != 0)
        pthread_cond_wait(&q->cv, &q->mu);
    pthread_mutex_unlock(&q->mu);
    batch_reset(b);
    return b;
}

static void
ring_publish(struct ring *q, struct batch *b)
{
    pthread_mutex_lock(&q->mu);
    b->stage = 1;
    q->produced++;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

static void
ring_finish(struct ring *q)
{
    pthread_mutex_lock(&q->mu);
    q->done = 1;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

static void *
ring_worker(void *arg)
{
    struct ring *q = arg;
    for (;;) {
        pthread_mutex_lock(&q->mu);
        while (q->claimed == q->produced && !q->done)
            pthread_cond_wait(&q->cv, &q->mu);
        if (q->claimed == q->produced) {
            pthread_mutex_unlock(&q->mu);
            return NULL;
        }
        struct batch *b = &q->slots[q->claimed++ % q->nslots];
        pthread_mutex_unlock(&q->mu);
        q->work(b, q->ctx);
        pthread_mutex_lock(&q->mu);
        b->stage = q->has_consumer ? 2 : 0;
        pthread_cond_broadcast(&q->cv);
        pthread_mutex_unlock(&q->mu);
    }
}

/* Consumer: batch k once processed, or NULL when the stream has ended. */
static struct batch *
ring_take(struct ring *q, uint64_t k)
{
    struct batch *b = &q->slots[k % q->nslots];
    pthread_mutex_lock(&q->mu);
    while (!(k < q->produced && b->stage == 2) &&
           !(q->done && k >= q->produced))
        pthread_cond_wait(&q->cv, &q->mu);
    if (k >= q->produced) {
        pthread_mutex_unlock(&q->mu);
        return NULL;
    }
    pthread_mutex_unlock(&q->mu);
    return b;
}

static void
ring_return(struct ring *q, struct batch *b)
{
    pthread_mutex_lock(&q->mu);
    b->stage = 0;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

/* Waits until every slot is free again (no consumer case). */
static void
ring_drain(struct ring *q)
{
    pthread_mutex_lock(&q->mu);
    for (unsigned i = 0; i < q->nslots; i++)
        while (q->slots[i].stage != 0)
            pthread_cond_wait(&q->cv, &q->mu);
    pthread_mutex_unlock(&q->mu);
}

/* ------------------------------------------------------------- ingest -- */

struct writer {
    sqlite3 *db;
    sqlite3_stmt *ins;
    sqlite3_stmt *seal_ins; /* --sign batch */
    enum sign_mode mode;
    const struct keypair *k;
    unsigned char last_hash[32];
    uint64_t written;
};

/* Prepares the insert and picks up the chain where the table ends; *next_seq
 * gets the seq the next event will have. */
static void
writer_open(struct writer *w, sqlite3 *db, enum sign_mode mode,
            const struct keypair *k, uint64_t *next_seq)
{
    w->db = db;
    w->written = 0;
    w->mode = mode;
    w->k = k;
    w->seal_ins = NULL;
    db_tail(db, next_seq, w->last_hash);
    if (mode == SIGN_BATCH) {
        w->ins = prepare(db, "INSERT INTO events(seq, ts, type, subject, run, "
                             "actor, body, prev, hash) "
                             "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)");
        w->seal_ins = prepare(db, "INSERT INTO seals(last_seq, first_seq, "
                                  "head, sig) VALUES(?1,?2,?3,?4)");
    } else {
        w->ins = prepare(db, "INSERT INTO events(seq, ts, type, subject, run, "
                             "actor, body, prev, hash, sig) "
                             "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)");
    }
}

static void
writer_close(struct writer *w)
{
    sqlite3_finalize(w->ins);
    sqlite3_finalize(w->seal_ins);
}

/* Chains and inserts a signed batch in one transaction. */
static void
write_batch(struct writer *w, struct batch *b)
{
    exec_sql(w->db, "BEGIN");
    for (size_t i = 0; i < b->n; i++) {
        struct row *r = &b->rows[i];
        const char *m = b->msgs.p + r->msg_off;
        unsigned char hash[32];
        chain_hash(hash, w->last_hash, b, r,
                   w->mode == SIGN_BATCH ? NULL : r->sig);
        sqlite3_stmt *st = w->ins;
        sqlite3_bind_int64(st, 1, (sqlite3_int64)r->seq);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)r->ts_ns);
        sqlite3_bind_text(st, 3, m + r->type_at, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, m + r->subject_at, -1, SQLITE_STATIC);
        if (m[r->run_at])
            sqlite3_bind_text(st, 5, m + r->run_at, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 5);
        sqlite3_bind_text(st, 6, m + r->actor_at, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, m + r->body_at, (int)(r->msg_len - r->body_at),
                          SQLITE_STATIC);
        sqlite3_bind_blob(st, 8, w->last_hash, 32, SQLITE_TRANSIENT);
        sqlite3_bind_blob(st, 9, hash, 32, SQLITE_STATIC);
        if (w->mode == SIGN_ROW)
            sqlite3_bind_blob(st, 10, r->sig, crypto_sign_BYTES, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            die("event %" PRIu64 ": insert: %s", r->seq, sqlite3_errmsg(w->db));
        sqlite3_reset(st);
        memcpy(w->last_hash, hash, 32);
    }
    if (w->mode == SIGN_BATCH && b->n > 0) {
        /* One signature for the transaction, over the chain head. */
        unsigned char msg[SEAL_MSG_LEN], sig[crypto_sign_BYTES];
        uint64_t first = b->rows[0].seq, last = b->rows[b->n - 1].seq;
        seal_msg(msg, first, b->n, w->last_hash);
        crypto_sign_detached(sig, NULL, msg, sizeof msg, w->k->sk);
        sqlite3_stmt *st = w->seal_ins;
        sqlite3_bind_int64(st, 1, (sqlite3_int64)last);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)first);
        sqlite3_bind_blob(st, 3, w->last_hash, 32, SQLITE_STATIC);
        sqlite3_bind_blob(st, 4, sig, sizeof sig, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            die("events %" PRIu64 "-%" PRIu64 ": storing the seal: %s", first,
                last, sqlite3_errmsg(w->db));
        sqlite3_reset(st);
    }
    exec_sql(w->db, "COMMIT");
    w->written += b->n;
}

struct sign_ctx {
    const struct keypair *k;
    enum sign_mode mode;
};

/* Parses and serializes a batch's rows, and signs each (--sign row); with
 * --sign batch the writer signs once per transaction. */
static void
sign_batch(struct batch *b, void *ctx)
{
    const struct sign_ctx *c = ctx;
    for (size_t i = 0; i < b->n; i++) {
        prepare_row(b, &b->rows[i], c->k);
        if (c->mode == SIGN_ROW)
            sign_row(b, &b->rows[i], c->k);
    }
}

/* Reads up to batch_size lines into b, stamping seq and ts. Returns the
 * number read (0 at end of input). */
static size_t
read_batch(FILE *in, struct batch *b, size_t batch_size, uint64_t *next_seq,
           uint64_t *last_ts, char **line, size_t *linecap)
{
    while (b->n < batch_size) {
        ssize_t len = getline(line, linecap, in);
        if (len < 0)
            break;
        while (len > 0 &&
               ((*line)[len - 1] == '\n' || (*line)[len - 1] == '\r'))
            len--;
        if (len == 0)
            continue;
        struct row *r = batch_push(b);
        r->seq = (*next_seq)++;
        uint64_t ts = realtime_ns();
        r->ts_ns = ts > *last_ts ? ts : *last_ts + 1;
        *last_ts = r->ts_ns;
        r->line_off = b->lines.len;
        r->line_len = (size_t)len;
        buf_add(&b->lines, *line, (size_t)len);
    }
    return b->n;
}

struct writer_thread {
    struct ring *q;
    struct writer *w;
};

static void *
writer_main(void *arg)
{
    struct writer_thread *wt = arg;
    for (uint64_t k = 0;; k++) {
        struct batch *b = ring_take(wt->q, k);
        if (!b)
            return NULL;
        write_batch(wt->w, b);
        ring_return(wt->q, b);
    }
}

static unsigned
default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

static int
cmd_ingest(const char *dbpath, const char *file, size_t batch_size,
           unsigned threads, enum sign_mode want)
{
    struct keypair k;
    key_load(&k);
    enum sign_mode mode;
    sqlite3 *db = db_open(dbpath, 0, want, &mode);
    db_check_key(db, &k, 0);
    FILE *in = strcmp(file, "-") ? fopen(file, "r") : stdin;
    if (!in)
        die("opening %s: %s", file, strerror(errno));

    struct writer w;
    uint64_t next_seq, last_ts = 0;
    writer_open(&w, db, mode, &k, &next_seq);
    char *line = NULL;
    size_t linecap = 0;
    struct sign_ctx sc = {&k, mode};
    double t0 = now_s();

    if (threads <= 1) {
        struct batch b;
        memset(&b, 0, sizeof b);
        for (;;) {
            batch_reset(&b);
            if (!read_batch(in, &b, batch_size, &next_seq, &last_ts, &line,
                            &linecap))
                break;
            sign_batch(&b, &sc);
            write_batch(&w, &b);
        }
        batch_release(&b);
    } else {
        unsigned nsign = threads - 1 > 64 ? 64 : threads - 1;
        struct ring q;
        ring_init(&q, 2 * nsign + 2, 1, sign_batch, &sc);
        pthread_t signers[64], wthr;
        struct writer_thread wt = {&q, &w};
        for (unsigned i = 0; i < nsign; i++)
            if (pthread_create(&signers[i], NULL, ring_worker, &q))
                die("cannot start a signing thread");
        if (pthread_create(&wthr, NULL, writer_main, &wt))
            die("cannot start the writer thread");
        for (;;) {
            struct batch *b = ring_acquire(&q);
            if (!read_batch(in, b, batch_size, &next_seq, &last_ts, &line,
                            &linecap))
                break;
            ring_publish(&q, b);
        }
        ring_finish(&q);
        for (unsigned i = 0; i < nsign; i++)
            pthread_join(signers[i], NULL);
        pthread_join(wthr, NULL);
        ring_release(&q);
    }
    if (ferror(in))
        die("reading %s: %s", file, strerror(errno));
    double secs = now_s() - t0;
    free(line);
    if (in != stdin)
        fclose(in);
    writer_close(&w);
    if (sqlite3_close(db) != SQLITE_OK)
        die("closing %s: %s", dbpath, sqlite3_errmsg(db));
    key_release(&k);
    fprintf(stderr,
            "peer_sqlite ingest events=%" PRIu64 " secs=%.3f eps=%.0f "
            "maxrss_kb=%ld threads=%u batch=%zu sign=%s\n",
            w.written, secs, secs > 0 ? (double)w.written / secs : 0.0,
            maxrss_kb(), threads, batch_size,
            mode == SIGN_BATCH ? "batch" : "row");
    return 0;
}

/* One event in its own transaction: what `ledger append` does. */
static int
cmd_append(const char *dbpath, const char *type, const char *body_json,
           enum sign_mode want)
{
    struct keypair k;
    key_load(&k);
    enum sign_mode mode;
    sqlite3 *db = db_open(dbpath, 0, want, &mode);
    db_check_key(db, &k, 0);
    json_t *ev = json_object();
    json_error_t jerr;
    json_t *body = json_loads(body_json, 0, &jerr);
    if (!body || !json_is_object(body))
        die("--body: not a JSON object: %s", body ? "wrong type" : jerr.text);
    json_object_set_new(ev, "type", json_string(type));
    json_object_set_new(ev, "body", body);
    char *line = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);

    struct writer w;
    struct batch b;
    memset(&b, 0, sizeof b);
    batch_reset(&b);
    struct row *r = batch_push(&b);
    writer_open(&w, db, mode, &k, &r->seq);
    r->ts_ns = realtime_ns();
    r->line_off = 0;
    r->line_len = strlen(line);
    buf_add(&b.lines, line, r->line_len);
    free(line);
    prepare_row(&b, r, &k);
    if (mode == SIGN_ROW)
        sign_row(&b, r, &k);
    write_batch(&w, &b);
    printf("%" PRIu64 "\n", r->seq);
    writer_close(&w);
    sqlite3_close(db);
    batch_release(&b);
    key_release(&k);
    return 0;
}

/* ------------------------------------------------------------- verify -- */

struct verify_ctx {
    const unsigned char *pk;
    pthread_mutex_t mu;
    uint64_t bad_seq; /* first event whose signature fails, or UINT64_MAX */
};

static void
verify_batch(struct batch *b, void *ctx)
{
    struct verify_ctx *c = ctx;
    for (size_t i = 0; i < b->n; i++) {
        const struct row *r = &b->rows[i];
        if (crypto_sign_verify_detached(
                r->sig, (const unsigned char *)b->msgs.p + r->msg_off,
                r->msg_len, c->pk) != 0) {
            pthread_mutex_lock(&c->mu);
            if (r->seq < c->bad_seq)
                c->bad_seq = r->seq;
            pthread_mutex_unlock(&c->mu);
            return;
        }
    }
}

static const char *
col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

static void
col_blob(sqlite3_stmt *st, int i, unsigned char *out, size_t n, uint64_t seq,
         const char *what)
{
    if ((size_t)sqlite3_column_bytes(st, i) != n)
        die("event %" PRIu64 ": %s is not %zu bytes", seq, what, n);
    memcpy(out, sqlite3_column_blob(st, i), n);
}

/* Rebuilds SIG_CTX ‖ R from a stored row and checks its place in the
 * chain. The signature is checked by verify_batch (--sign row) or by
 * check_seal (--sign batch, whose rows have no sig column). */
static void
load_verify_row(sqlite3_stmt *st, struct batch *b, uint64_t want_seq,
                unsigned char last_hash[32], enum sign_mode mode)
{
    struct row *r = batch_push(b);
    r->seq = (uint64_t)sqlite3_column_int64(st, 0);
    if (r->seq != want_seq)
        die("chain broken: expected event %" PRIu64 ", found %" PRIu64,
            want_seq, r->seq);
    r->ts_ns = (uint64_t)sqlite3_column_int64(st, 1);
    const char *body_text = col_text(st, 6);
    /* The stored body is already canonical; R carries it byte for byte. */
    struct buf *m = &b->msgs;
    unsigned char hdr[HDR_LEN];
    r->msg_off = m->len;
    buf_add(m, SIG_CTX, SIG_CTX_LEN);
    put_be64(hdr, r->seq);
    put_be64(hdr + 8, r->ts_ns);
    buf_add(m, hdr, sizeof hdr);
    buf_addstr0(m, col_text(st, 2));
    buf_addstr0(m, col_text(st, 3));
    buf_addstr0(m, col_text(st, 4));
    buf_addstr0(m, col_text(st, 5));
    buf_add(m, body_text, (size_t)sqlite3_column_bytes(st, 6));
    r->msg_len = m->len - r->msg_off;
    col_blob(st, 7, r->prev, 32, r->seq, "prev");
    col_blob(st, 8, r->hash, 32, r->seq, "hash");
    if (mode == SIGN_ROW)
        col_blob(st, 9, r->sig, crypto_sign_BYTES, r->seq, "sig");
    if (memcmp(r->prev, last_hash, 32))
        die("event %" PRIu64 ": prev does not match the hash of event %" PRIu64,
            r->seq, r->seq - 1);
    unsigned char h[32];
    chain_hash(h, r->prev, b, r, mode == SIGN_ROW ? r->sig : NULL);
    if (memcmp(h, r->hash, 32))
        die("event %" PRIu64 ": stored hash does not match its contents",
            r->seq);
    memcpy(last_hash, h, 32);
}

/* One stored seal (--sign batch). */
struct seal {
    uint64_t first, last;
    unsigned char head[32], sig[crypto_sign_BYTES];
};

/* Reads the next seal from st (columns last_seq, first_seq, head, sig);
 * 0 at the end. */
static int
seal_next(sqlite3 *db, sqlite3_stmt *st, struct seal *out)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc != SQLITE_ROW)
        die("sqlite: reading seals: %s", sqlite3_errmsg(db));
    out->last = (uint64_t)sqlite3_column_int64(st, 0);
    out->first = (uint64_t)sqlite3_column_int64(st, 1);
    col_blob(st, 2, out->head, 32, out->last, "seal head");
    col_blob(st, 3, out->sig, crypto_sign_BYTES, out->last, "seal signature");
    if (out->first > out->last)
        die("seal ending at event %" PRIu64 ": first %" PRIu64
            " is after its last",
            out->last, out->first);
    return 1;
}

/* The seal's head must be the chain's hash at its last row, and its
 * signature must verify. */
static void
check_seal(const struct seal *s, const unsigned char chain_head[32],
           const unsigned char *pk)
{
    unsigned char msg[SEAL_MSG_LEN];
    if (memcmp(s->head, chain_head, 32))
        die("events %" PRIu64 "-%" PRIu64
            ": the seal's head is not the chain's hash at event %" PRIu64,
            s->first, s->last, s->last);
    seal_msg(msg, s->first, s->last - s->first + 1, s->head);
    if (crypto_sign_verify_detached(s->sig, msg, sizeof msg, pk) != 0)
        die("events %" PRIu64 "-%" PRIu64 ": seal signature does not verify",
            s->first, s->last);
}

/* --sign batch: one pass, re-hashing the chain and checking each row's
 * prev and hash; at the end of each transaction, its seal. Every row must
 * be under a seal; seals must tile the log without gaps or overlaps. */
static uint64_t
verify_sealed(sqlite3 *db, const unsigned char *pk)
{
    sqlite3_stmt *st = prepare(db, "SELECT seq, ts, type, subject, run, "
                                   "actor, body, prev, hash FROM events "
                                   "ORDER BY seq");
    sqlite3_stmt *ss = prepare(db, "SELECT last_seq, first_seq, head, sig "
                                   "FROM seals ORDER BY last_seq");
    struct batch b;
    memset(&b, 0, sizeof b);
    unsigned char last_hash[32] = {0};
    uint64_t seq = 0;
    struct seal cur;
    int have = seal_next(db, ss, &cur);
    if (have && cur.first != 0)
        die("the first seal starts at event %" PRIu64 ", not 0", cur.first);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        batch_reset(&b);
        load_verify_row(st, &b, seq, last_hash, SIGN_BATCH);
        if (!have)
            die("event %" PRIu64 ": not covered by any seal", seq);
        if (cur.first > seq)
            die("event %" PRIu64 ": seal ending at %" PRIu64
                " starts at %" PRIu64 ", after it",
                seq, cur.last, cur.first);
        if (seq == cur.last) {
            check_seal(&cur, last_hash, pk);
            uint64_t next_first = cur.last + 1;
            have = seal_next(db, ss, &cur);
            if (have && cur.first != next_first)
                die("seal ending at event %" PRIu64 " starts at %" PRIu64
                    ", not %" PRIu64,
                    cur.last, cur.first, next_first);
        }
        seq++;
    }
    if (rc != SQLITE_DONE)
        die("sqlite: reading events: %s", sqlite3_errmsg(db));
    if (have)
        die("seal for events %" PRIu64 "-%" PRIu64
            " covers events the log does not have (it ends at %" PRIu64 ")",
            cur.first, cur.last, seq);
    batch_release(&b);
    sqlite3_finalize(ss);
    sqlite3_finalize(st);
    return seq;
}

static int
cmd_verify(const char *dbpath, unsigned threads)
{
    enum sign_mode mode;
    sqlite3 *db = db_open(dbpath, 1, SIGN_ROW, &mode);
    sqlite3_stmt *pk_st = prepare(db, "SELECT v FROM meta WHERE k='pubkey'");
    unsigned char pk[32];
    if (sqlite3_step(pk_st) != SQLITE_ROW)
        die("%s: no public key in meta", dbpath);
    col_blob(pk_st, 0, pk, 32, 0, "public key");
    sqlite3_finalize(pk_st);

    if (mode == SIGN_BATCH) {
        /* One thread: the chain is hashed in order and there is one
         * signature per transaction, so nothing is worth spreading. */
        double t0 = now_s();
        uint64_t n = verify_sealed(db, pk);
        double secs = now_s() - t0;
        sqlite3_close(db);
        fprintf(stderr,
                "peer_sqlite verify events=%" PRIu64 " secs=%.3f eps=%.0f "
                "threads=1 maxrss_kb=%ld sign=batch ok=1\n",
                n, secs, secs > 0 ? (double)n / secs : 0.0, maxrss_kb());
        return 0;
    }
    sqlite3_stmt *st = prepare(db, "SELECT seq, ts, type, subject, run, "
                                   "actor, body, prev, hash, sig FROM events "
                                   "ORDER BY seq");
    struct verify_ctx vc = {pk, PTHREAD_MUTEX_INITIALIZER, UINT64_MAX};
    unsigned char last_hash[32] = {0};
    uint64_t seq = 0;
    const size_t per_batch = 1000;
    double t0 = now_s();
    int rc = SQLITE_ROW;

    if (threads <= 1) {
        struct batch b;
        memset(&b, 0, sizeof b);
        while (rc == SQLITE_ROW) {
            batch_reset(&b);
            while (b.n < per_batch && (rc = sqlite3_step(st)) == SQLITE_ROW)
                load_verify_row(st, &b, seq++, last_hash, SIGN_ROW);
            verify_batch(&b, &vc);
        }
        batch_release(&b);
    } else {
        struct ring q;
        pthread_t thr[64];
        if (threads > 64)
            threads = 64;
        ring_init(&q, 2 * threads + 2, 0, verify_batch, &vc);
        for (unsigned i = 0; i < threads; i++)
            if (pthread_create(&thr[i], NULL, ring_worker, &q))
                die("cannot start a verify thread");
        while (rc == SQLITE_ROW) {
            struct batch *b = ring_acquire(&q);
            while (b->n < per_batch && (rc = sqlite3_step(st)) == SQLITE_ROW)
                load_verify_row(st, b, seq++, last_hash, SIGN_ROW);
            ring_publish(&q, b);
        }
        ring_finish(&q);
        for (unsigned i = 0; i < threads; i++)
            pthread_join(thr[i], NULL);
        ring_drain(&q);
        ring_release(&q);
    }
    if (rc != SQLITE_DONE)
        die("sqlite: reading events: %s", sqlite3_errmsg(db));
    double secs = now_s() - t0;
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (vc.bad_seq != UINT64_MAX) {
        fprintf(stderr,
                "peer_sqlite verify: event %" PRIu64
                ": signature does not verify\n",
                vc.bad_seq);
        return 1;
    }
    fprintf(stderr,
            "peer_sqlite verify events=%" PRIu64 " secs=%.3f eps=%.0f "
            "threads=%u maxrss_kb=%ld ok=1\n",
            seq, secs, secs > 0 ? (double)seq / secs : 0.0, threads,
            maxrss_kb());
    return 0;
}

/* ------------------------------------------------------------ queries -- */

/* Writes s as a JSON string. */
static void
put_json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

/* Columns: seq, ts, type, subject, run, actor, body. */
static void
print_row(FILE *out, sqlite3_stmt *st)
{
    fprintf(out, "{\"seq\":%lld,\"ts_ns\":%lld,\"type\":",
            (long long)sqlite3_column_int64(st, 0),
            (long long)sqlite3_column_int64(st, 1));
    put_json_str(out, col_text(st, 2));
    fputs(",\"subject\":", out);
    put_json_str(out, col_text(st, 3));
    if (sqlite3_column_type(st, 4) != SQLITE_NULL) {
        fputs(",\"run\":", out);
        put_json_str(out, col_text(st, 4));
    }
    fputs(",\"actor\":", out);
    put_json_str(out, col_text(st, 5));
    fputs(",\"body\":", out);
    fwrite(sqlite3_column_text(st, 6), 1, (size_t)sqlite3_column_bytes(st, 6),
           out);
    fputs("}\n", out);
}

static sqlite3_int64
parse_i64(const char *what, const char *s)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 0)
        die("%s: not a non-negative integer: '%s'", what, s);
    return v;
}

#define ROW_COLS "seq, ts, type, subject, run, actor, body"

/* Steps st to the end, printing rows unless count_only. */
static uint64_t
run_query(sqlite3 *db, sqlite3_stmt *st, int count_only)
{
    uint64_t rows = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        rows++;
        if (!count_only)
            print_row(stdout, st);
    }
    if (rc != SQLITE_DONE)
        die("sqlite: query: %s", sqlite3_errmsg(db));
    if (fflush(stdout))
        die("writing stdout: %s", strerror(errno));
    return rows;
}

static uint64_t
event_count(sqlite3 *db)
{
    sqlite3_stmt *st = prepare(db, "SELECT max(seq) FROM events");
    uint64_t n = 0;
    if (sqlite3_step(st) == SQLITE_ROW &&
        sqlite3_column_type(st, 0) != SQLITE_NULL)
        n = (uint64_t)sqlite3_column_int64(st, 0) + 1;
    sqlite3_finalize(st);
    return n;
}

static int
cmd_query_run(const char *dbpath, const char *run, int count_only)
{
    double t0 = now_s();
    sqlite3 *db = db_open(dbpath, 1, SIGN_ROW, NULL);
    sqlite3_stmt *st = prepare(db, "SELECT " ROW_COLS " FROM events "
                                   "WHERE run = ?1 ORDER BY seq");
    sqlite3_bind_text(st, 1, run, -1, SQLITE_STATIC);
    uint64_t rows = run_query(db, st, count_only);
    sqlite3_finalize(st);
    sqlite3_close(db);
    double secs = now_s() - t0;
    fprintf(stderr, "peer_sqlite query-run run=%s rows=%" PRIu64 " secs=%.6f\n",
            run, rows, secs);
    return rows ? 0 : 1;
}

static int
cmd_scan_time(const char *dbpath, const char *from, const char *to,
              int count_only)
{
    double t0 = now_s();
    sqlite3 *db = db_open(dbpath, 1, SIGN_ROW, NULL);
    /* ts increases with seq (ingest forces it), so ts order is seq order and
     * the ts index serves both the range and the order. */
    sqlite3_stmt *st = prepare(db, "SELECT " ROW_COLS " FROM events "
                                   "WHERE ts >= ?1 AND ts < ?2 ORDER BY ts");
    sqlite3_bind_int64(st, 1, parse_i64("FROM_NS", from));
    sqlite3_bind_int64(st, 2, parse_i64("TO_NS", to));
    uint64_t rows = run_query(db, st, count_only);
    sqlite3_finalize(st);
    sqlite3_close(db);
    double secs = now_s() - t0;
    fprintf(stderr,
            "peer_sqlite scan-time rows=%" PRIu64 " secs=%.6f eps=%.0f\n", rows,
            secs, secs > 0 ? (double)rows / secs : 0.0);
    return 0;
}

static int
cmd_scan_body(const char *dbpath, const char *field, const char *value,
              int count_only)
{
    char path[256];
    if ((size_t)snprintf(path, sizeof path, "$.%s", field) >= sizeof path)
        die("field name too long: %s", field);
    double t0 = now_s();
    sqlite3 *db = db_open(dbpath, 1, SIGN_ROW, NULL);
    sqlite3_stmt *st = prepare(db, "SELECT " ROW_COLS " FROM events "
                                   "WHERE json_extract(body, ?1) = ?2 "
                                   "ORDER BY seq");
    sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    uint64_t rows = run_query(db, st, count_only);
    sqlite3_finalize(st);
    uint64_t scanned = event_count(db);
    sqlite3_close(db);
    double secs = now_s() - t0;
    fprintf(stderr,
            "peer_sqlite scan-body field=%s value=%s rows=%" PRIu64
            " scanned=%" PRIu64 " secs=%.6f eps=%.0f\n",
            field, value, rows, scanned, secs,
            secs > 0 ? (double)scanned / secs : 0.0);
    return 0;
}

/* get SEQ with --sign batch: the row, then every row after it up to the
 * end of its transaction re-hashed from its stored prev, and that
 * transaction's seal checked against the chain head. */
static int
get_sealed(sqlite3 *db, const unsigned char *pk, uint64_t seq, double t0)
{
    sqlite3_stmt *ss = prepare(db, "SELECT last_seq, first_seq, head, sig "
                                   "FROM seals WHERE last_seq >= ?1 "
                                   "ORDER BY last_seq LIMIT 1");
    sqlite3_bind_int64(ss, 1, (sqlite3_int64)seq);
    struct seal seal;
    if (!seal_next(db, ss, &seal) || seal.first > seq)
        die("event %" PRIu64 ": not found under any seal", seq);
    sqlite3_finalize(ss);
    sqlite3_stmt *st = prepare(db, "SELECT seq, ts, type, subject, run, "
                                   "actor, body, prev, hash FROM events "
                                   "WHERE seq >= ?1 AND seq <= ?2 "
                                   "ORDER BY seq");
    sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)seal.last);
    struct batch b;
    memset(&b, 0, sizeof b);
    unsigned char chain[32], row_hash[32];
    uint64_t want = seq;
    int rc;
    char *row_json = NULL;
    size_t row_len = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        batch_reset(&b);
        if (want == seq) {
            col_blob(st, 7, chain, 32, seq, "prev");
            FILE *mem = open_memstream(&row_json, &row_len);
            if (!mem)
                die("out of memory");
            print_row(mem, st);
            fclose(mem);
        }
        load_verify_row(st, &b, want, chain, SIGN_BATCH);
        if (want == seq)
            memcpy(row_hash, chain, 32);
        want++;
    }
    if (rc != SQLITE_DONE)
        die("sqlite: reading events: %s", sqlite3_errmsg(db));
    if (want != seal.last + 1)
        die("event %" PRIu64 ": its transaction's rows end at %" PRIu64
            ", the seal at %" PRIu64,
            seq, want ? want - 1 : 0, seal.last);
    check_seal(&seal, chain, pk);
    char hash_hex[65], sig_hex[129];
    sodium_bin2hex(hash_hex, sizeof hash_hex, row_hash, 32);
    sodium_bin2hex(sig_hex, sizeof sig_hex, seal.sig, 64);
    fputs(row_json, stdout);
    printf("{\"hash\":\"%s\",\"seal\":{\"first\":%" PRIu64 ",\"last\":%" PRIu64
           ",\"sig\":\"%s\"}}\n",
           hash_hex, seal.first, seal.last, sig_hex);
    free(row_json);
    sqlite3_finalize(st);
    sqlite3_close(db);
    batch_release(&b);
    fprintf(stderr, "peer_sqlite get seq=%" PRIu64 " secs=%.6f sign=batch\n",
            seq, now_s() - t0);
    return 0;
}

/* Fetches one row and checks its signature: the nearest thing the peer
 * has to `ledger proof` (it has no Merkle tree, so no inclusion proof). */
static int
cmd_get(const char *dbpath, const char *seq_text)
{
    double t0 = now_s();
    enum sign_mode mode;
    sqlite3 *db = db_open(dbpath, 1, SIGN_ROW, &mode);
    sqlite3_stmt *pk_st = prepare(db, "SELECT v FROM meta WHERE k='pubkey'");
    unsigned char pk[32];
    if (sqlite3_step(pk_st) != SQLITE_ROW)
        die("%s: no public key in meta", dbpath);
    col_blob(pk_st, 0, pk, 32, 0, "public key");
    sqlite3_finalize(pk_st);
    uint64_t seq = (uint64_t)parse_i64("SEQ", seq_text);
    if (mode == SIGN_BATCH)
        return get_sealed(db, pk, seq, t0);
    sqlite3_stmt *st = prepare(db, "SELECT seq, ts, type, subject, run, "
                                   "actor, body, prev, hash, sig FROM events "
                                   "WHERE seq = ?1");
    sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
    if (sqlite3_step(st) != SQLITE_ROW)
        die("event %" PRIu64 ": not found", seq);
    struct batch b;
    memset(&b, 0, sizeof b);
    batch_reset(&b);
    unsigned char prev[32];
    col_blob(st, 7, prev, 32, seq, "prev");
    load_verify_row(st, &b, seq, prev, SIGN_ROW);
    struct verify_ctx vc = {pk, PTHREAD_MUTEX_INITIALIZER, UINT64_MAX};
    verify_batch(&b, &vc);
    if (vc.bad_seq != UINT64_MAX)
        die("event %" PRIu64 ": signature does not verify", seq);
    char hash_hex[65], sig_hex[129];
    sodium_bin2hex(hash_hex, sizeof hash_hex, b.rows[0].hash, 32);
    sodium_bin2hex(sig_hex, sizeof sig_hex, b.rows[0].sig, 64);
    print_row(stdout, st);
    printf("{\"hash\":\"%s\",\"sig\":\"%s\"}\n", hash_hex, sig_hex);
    sqlite3_finalize(st);
    sqlite3_close(db);
    batch_release(&b);
    fprintf(stderr, "peer_sqlite get seq=%" PRIu64 " secs=%.6f\n", seq,
            now_s() - t0);
    return 0;
}

static int
cmd_info(const char *dbpath)
{
    sqlite3 *db = db_open(dbpath, 1, SIGN_ROW, NULL);
    sqlite3_stmt *st =
        prepare(db, "SELECT count(*), min(ts), max(ts) FROM events");
    if (sqlite3_step(st) != SQLITE_ROW)
        die("sqlite: %s", sqlite3_errmsg(db));
    printf("events=%lld first_ts=%lld last_ts=%lld\n",
           (long long)sqlite3_column_int64(st, 0),
           (long long)sqlite3_column_int64(st, 1),
           (long long)sqlite3_column_int64(st, 2));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return 0;
}

/* --------------------------------------------------------------- main -- */

static void
usage(void)
{
    fprintf(stderr,
            "usage: peer_sqlite ingest DB FILE [--batch N] [--threads T] "
            "[--sign row|batch]\n"
            "       peer_sqlite append DB TYPE JSON_BODY [--sign row|batch]\n"
            "       peer_sqlite get DB SEQ\n"
            "       peer_sqlite query-run DB RUN [--count]\n"
            "       peer_sqlite scan-time DB FROM_NS TO_NS [--count]\n"
            "       peer_sqlite scan-body DB FIELD VALUE [--count]\n"
            "       peer_sqlite verify DB [--threads T]\n"
            "       peer_sqlite info DB\n");
    exit(2);
}

static unsigned long
parse_count(const char *opt, const char *s)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s ? s : "", &end, 10);
    if (!s || errno || end == s || *end || v == 0)
        die("%s needs a positive number", opt);
    return v;
}

int
main(int argc, char **argv)
{
    const char *pos[4] = {NULL};
    int npos = 0, count_only = 0;
    size_t batch = BATCH_DEFAULT;
    unsigned threads = default_threads();
    enum sign_mode sign = SIGN_ROW;

    if (sodium_init() < 0)
        die("libsodium failed to initialize");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--batch")) {
            batch = parse_count("--batch", i + 1 < argc ? argv[++i] : NULL);
        } else if (!strcmp(argv[i], "--threads")) {
            threads = (unsigned)parse_count("--threads",
                                            i + 1 < argc ? argv[++i] : NULL);
        } else if (!strcmp(argv[i], "--sign")) {
            const char *v = i + 1 < argc ? argv[++i] : "";
            if (!strcmp(v, "row"))
                sign = SIGN_ROW;
            else if (!strcmp(v, "batch"))
                sign = SIGN_BATCH;
            else
                die("--sign needs row or batch, not '%s'", v);
        } else if (!strcmp(argv[i], "--count")) {
            count_only = 1;
        } else if (npos < 4) {
            pos[npos++] = argv[i];
        } else {
            usage();
        }
    }
    if (npos < 2)
        usage();
    const char *cmd = pos[0], *db = pos[1];
    if (!strcmp(cmd, "ingest") && npos == 3)
        return cmd_ingest(db, pos[2], batch, threads, sign);
    if (!strcmp(cmd, "append") && npos == 4)
        return cmd_append(db, pos[2], pos[3], sign);
    if (!strcmp(cmd, "get") && npos == 3)
        return cmd_get(db, pos[2]);
    if (!strcmp(cmd, "query-run") && npos == 3)
        return cmd_query_run(db, pos[2], count_only);
    if (!strcmp(cmd, "scan-time") && npos == 4)
        return cmd_scan_time(db, pos[2], pos[3], count_only);
    if (!strcmp(cmd, "scan-body") && npos == 4)
        return cmd_scan_body(db, pos[2], pos[3], count_only);
    if (!strcmp(cmd, "verify") && npos == 2)
        return cmd_verify(db, threads);
    if (!strcmp(cmd, "info") && npos == 2)
        return cmd_info(db);
    usage();
}
