/*
 * peer_serve.c — the SQLite peer of `ledger serve`: the same protocol
 * (docs/PROTOCOL.md: one JSON line per event, one answer line per request
 * in order, {"id":...,"seq":"N"} only after a durable commit) served over
 * one SQLite table in WAL mode with synchronous=FULL, with group commit.
 *
 *   peer_serve SOCKET DB
 *
 * Prints "listening on SOCKET" once it accepts; SIGTERM stops it.
 *
 * Per event it does the kinds of work the ledger does: parse the line
 * (jansson, duplicate keys refused), check type and body, serialize the
 * body canonically (sorted keys, compact), sign with Ed25519 and chain
 * with SHA-256 as bench/peer_sqlite.c does, and insert into an indexed
 * table. Threads: one per connection reads and parses; one writer takes
 * everything queued, inserts it in one transaction (BEGIN ... COMMIT, the
 * fsync of WAL with synchronous=FULL), then answers. A lone event commits
 * at once; events arriving during a commit share the next one.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <nettle/sha2.h>
#include <sodium.h>
#include <sqlite3.h>

#define LINE_MAX_BYTES (1 << 20)

struct pconn {
    int fd;
    pthread_mutex_t wmu;
    int refs; /* reader + requests in flight */
    pthread_mutex_t rmu;
};

struct preq {
    struct preq *next;
    struct pconn *c;
    char *type, *body, *id; /* body: canonical JSON */
    char *answer;           /* an error answer made by the reader */
};

static pthread_mutex_t qmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qcv = PTHREAD_COND_INITIALIZER;
static struct preq *qhead, *qtail;
static sqlite3 *db;
static sqlite3_stmt *ins;
static uint8_t sk[64], prev[32];
static uint64_t next_seq;
static volatile sig_atomic_t stop;

static void
conn_unref(struct pconn *c)
{
    int last;
    pthread_mutex_lock(&c->rmu);
    last = --c->refs == 0;
    pthread_mutex_unlock(&c->rmu);
    if (last) {
        close(c->fd);
        free(c);
    }
}

static void
answer(struct pconn *c, const char *s)
{
    size_t n = strlen(s), off = 0;
    pthread_mutex_lock(&c->wmu);
    while (off < n) {
        ssize_t w = send(c->fd, s + off, n - off, MSG_NOSIGNAL);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    pthread_mutex_unlock(&c->wmu);
}

static char *
error_line(const char *id, const char *msg)
{
    json_t *o = json_object();
    char *t, *line;
    if (id)
        json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "error", json_string(msg));
    json_object_set_new(o, "code", json_integer(65));
    t = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    line = malloc(strlen(t) + 2);
    sprintf(line, "%s\n", t);
    free(t);
    return line;
}

static void
enqueue(struct preq *r)
{
    pthread_mutex_lock(&qmu);
    if (qtail)
        qtail->next = r;
    else
        qhead = r;
    qtail = r;
    pthread_cond_signal(&qcv);
    pthread_mutex_unlock(&qmu);
}

static void
parse_line(struct pconn *c, const char *line, size_t len)
{
    struct preq *r = calloc(1, sizeof *r);
    json_error_t je;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je), *v;
    const char *id = NULL;

    r->c = c;
    pthread_mutex_lock(&c->rmu);
    c->refs++;
    pthread_mutex_unlock(&c->rmu);
    if (!json_is_object(o)) {
        r->answer = error_line(NULL, je.text);
        goto out;
    }
    v = json_object_get(o, "id");
    if (json_is_string(v))
        id = json_string_value(v);
    if (!json_is_string(json_object_get(o, "type"))) {
        r->answer = error_line(id, "field 'type': required");
        goto out;
    }
    v = json_object_get(o, "body");
    if (!json_is_object(v)) {
        r->answer = error_line(id, "field 'body': must be an object");
        goto out;
    }
    r->type = strdup(json_string_value(json_object_get(o, "type")));
    r->body = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    r->id = id ? strdup(id) : NULL;
out:
    json_decref(o);
    enqueue(r);
}

static void *
reader(void *arg)
{
    struct pconn *c = arg;
    char *buf = malloc(LINE_MAX_BYTES + 1);
    size_t len = 0;
    for (;;) {
        ssize_t n = recv(c->fd, buf + len, LINE_MAX_BYTES - len, 0);
        size_t pos = 0;
        char *nl;
        if (n <= 0)
            break;
        len += (size_t)n;
        while ((nl = memchr(buf + pos, '\n', len - pos)) != NULL) {
            if (nl > buf + pos)
                parse_line(c, buf + pos, (size_t)(nl - (buf + pos)));
            pos = (size_t)(nl - buf) + 1;
        }
        memmove(buf, buf + pos, len - pos);
        len -= pos;
        if (len == LINE_MAX_BYTES)
            break; /* over-long: the peer is simple */
    }
    free(buf);
    conn_unref(c);
    return NULL;
}

/* Row bytes, signature and chain as bench/peer_sqlite.c. */
static void
store(struct preq *r, uint64_t seq, uint64_t ts)
{
    size_t tl = strlen(r->type), bl = strlen(r->body), n = 16 + tl + 1 + bl;
    uint8_t *row = malloc(n), sig[64], hash[32];
    struct sha256_ctx h;
    for (int i = 0; i < 8; i++) {
        row[i] = (uint8_t)(seq >> (56 - 8 * i));
        row[8 + i] = (uint8_t)(ts >> (56 - 8 * i));
    }
    memcpy(row + 16, r->type, tl + 1);
    memcpy(row + 17 + tl, r->body, bl);
    crypto_sign_detached(sig, NULL, row, n, sk);
    sha256_init(&h);
    sha256_update(&h, 32, prev);
    sha256_update(&h, n, row);
    sha256_update(&h, 64, sig);
    sha256_digest(&h, 32, hash);
    memcpy(prev, hash, 32);
    sqlite3_bind_int64(ins, 1, (sqlite3_int64)seq);
    sqlite3_bind_int64(ins, 2, (sqlite3_int64)ts);
    sqlite3_bind_text(ins, 3, r->type, (int)tl, SQLITE_STATIC);
    sqlite3_bind_text(ins, 4, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(ins, 5, r->body, (int)bl, SQLITE_STATIC);
    sqlite3_bind_blob(ins, 6, sig, 64, SQLITE_STATIC);
    sqlite3_bind_blob(ins, 7, hash, 32, SQLITE_STATIC);
    if (sqlite3_step(ins) != SQLITE_DONE)
        fprintf(stderr, "peer_serve: insert: %s\n", sqlite3_errmsg(db));
    sqlite3_reset(ins);
    free(row);
}

static void *
writer(void *arg)
{
    (void)arg;
    for (;;) {
        struct preq *g, *r, *nx;
        uint64_t first = next_seq;
        struct timespec now;
        pthread_mutex_lock(&qmu);
        while (qhead == NULL && !stop)
            pthread_cond_wait(&qcv, &qmu);
        g = qhead;
        qhead = qtail = NULL;
        pthread_mutex_unlock(&qmu);
        if (g == NULL)
            break;
        sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
        for (r = g; r != NULL; r = r->next) {
            if (r->answer)
                continue;
            clock_gettime(CLOCK_REALTIME, &now);
            store(r, next_seq++,
                  (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec);
        }
        if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
            fprintf(stderr, "peer_serve: commit: %s\n", sqlite3_errmsg(db));
            exit(74);
        }
        /* durable: answer */
        for (r = g; r != NULL; r = nx) {
            char line[400];
            nx = r->next;
            if (r->answer)
                answer(r->c, r->answer);
            else {
                json_t *idj = r->id ? json_string(r->id) : NULL;
                char *ids = idj ? json_dumps(idj, JSON_ENCODE_ANY) : NULL;
                snprintf(line, sizeof line, "{%s%s%s\"seq\":\"%llu\"}\n",
                         ids ? "\"id\":" : "", ids ? ids : "", ids ? "," : "",
                         (unsigned long long)first++);
                answer(r->c, line);
                free(ids);
                json_decref(idj);
            }
            conn_unref(r->c);
            free(r->type);
            free(r->body);
            free(r->id);
            free(r->answer);
            free(r);
        }
    }
    return NULL;
}

static void
on_term(int sig)
{
    (void)sig;
    stop = 1;
}

int
main(int argc, char **argv)
{
    struct sockaddr_un sa;
    uint8_t pk[32], seed[32];
    pthread_t wt;
    int lfd;

    if (argc != 3) {
        fprintf(stderr, "usage: peer_serve SOCKET DB\n");
        return 64;
    }
    if (sodium_init() < 0)
        return 70;
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)i;
    crypto_sign_seed_keypair(pk, sk, seed);
    if (sqlite3_open(argv[2], &db) != SQLITE_OK)
        return 74;
    sqlite3_exec(db,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                 "CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY,"
                 " ts INTEGER NOT NULL, type TEXT NOT NULL, id TEXT,"
                 " body TEXT NOT NULL, sig BLOB NOT NULL, hash BLOB NOT NULL);"
                 "CREATE INDEX IF NOT EXISTS events_type ON events(type, seq);"
                 "CREATE INDEX IF NOT EXISTS events_ts ON events(ts);",
                 NULL, NULL, NULL);
    sqlite3_prepare_v2(db,
                       "INSERT INTO events(seq,ts,type,id,body,sig,hash) "
                       "VALUES(?,?,?,?,?,?,?)",
                       -1, &ins, NULL);
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", argv[1]);
    unlink(argv[1]);
    lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        listen(lfd, 512) < 0) {
        perror("peer_serve: bind");
        return 74;
    }
    signal(SIGPIPE, SIG_IGN);
    {
        struct sigaction a;
        memset(&a, 0, sizeof a);
        a.sa_handler = on_term;
        sigaction(SIGTERM, &a, NULL); /* no SA_RESTART: accept returns */
    }
    pthread_create(&wt, NULL, writer, NULL);
    printf("listening on %s\n", argv[1]);
    fflush(stdout);
    while (!stop) {
        int fd = accept(lfd, NULL, NULL);
        struct pconn *c;
        pthread_t th;
        if (fd < 0)
            continue;
        c = calloc(1, sizeof *c);
        c->fd = fd;
        c->refs = 1;
        pthread_mutex_init(&c->wmu, NULL);
        pthread_mutex_init(&c->rmu, NULL);
        pthread_create(&th, NULL, reader, c);
        pthread_detach(th);
    }
    pthread_mutex_lock(&qmu);
    pthread_cond_signal(&qcv);
    pthread_mutex_unlock(&qmu);
    pthread_join(wt, NULL);
    unlink(argv[1]);
    sqlite3_finalize(ins);
    sqlite3_close(db);
    return 0;
}
