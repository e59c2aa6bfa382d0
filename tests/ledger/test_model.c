/*
 * test_model.c — the log against a model of it (as redis tests its streams
 * and SQLite its btree): a trivially correct in-memory list of events
 * beside the real ledger, random operations applied to both, compared
 * after each step.
 *
 * The operations: single appends and batches (some with ids), the same id
 * again (with the same and with another body: nothing appended), a body
 * erased, a prune (archive, then prune before a random seq: the horizon
 * must be the last commit's end at or before it), the handle closed and
 * opened again, and a crash: a child
 * process appends one event a commit and says each seq once the commit
 * returned, and is killed with SIGKILL at a random moment; every event it
 * acknowledged must be there, and what is there past them must be the
 * next of its events, whole.
 *
 * After each step: the size, every kept event's type, id and body (or its
 * erasure), every pruned one answering LDG_EPRUNED; every few steps and
 * at the end, a full verification. A failure prints the seed and the
 * steps so far. LEDGER_MODEL_SEEDS ("1 2 3") and LEDGER_MODEL_STEPS set
 * how much is run (make torture may run more). The ledger is of the
 * newest store layout, the only one a build appends to (a migrate from
 * the older ones: test_migrate.c and tests/e2e/migrate.sh, on their
 * golden images).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "retention/retention.h"
#include "tests/support/support.h"

#define EV_MAX 4096
#define TRACE_MAX 16384

struct mev {
    char type[32];
    char body[96]; /* the body as JSON text; "" for events of the ledger's
                      own (genesis, ledger.pruned) */
    char id[24];   /* "" when none */
    int erased;
};

struct model {
    struct mev v[EV_MAX];
    uint64_t n, horizon;
    uint8_t ckpt[EV_MAX + 1]; /* ckpt[s]: a commit ended at size s */
    int layout;
};

struct run {
    struct model m;
    struct ldg_ledger *l;
    char dir[256];
    uint64_t seed, rng, ids, crashes;
    int format, steps;
    char trace[TRACE_MAX];
    size_t tlen;
};

static uint64_t
rnd(struct run *r)
{
    r->rng ^= r->rng << 13;
    r->rng ^= r->rng >> 7;
    r->rng ^= r->rng << 17;
    return r->rng;
}

static void say(struct run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void
say(struct run *r, const char *fmt, ...)
{
    va_list ap;
    if (r->tlen + 200 > sizeof r->trace)
        r->tlen = 0; /* keep the latest steps */
    va_start(ap, fmt);
    r->tlen += (size_t)vsnprintf(r->trace + r->tlen, sizeof r->trace - r->tlen,
                                 fmt, ap);
    va_end(ap);
}

#define CHECK(r, cond, ...)                                                    \
    do {                                                                       \
        if (!(cond)) {                                                         \
            say(r, __VA_ARGS__);                                               \
            fail_msg("model test, seed %llu, format %d:\n%s",                  \
                     (unsigned long long)(r)->seed, (r)->format, (r)->trace);  \
        }                                                                      \
    } while (0)

static struct mev *
model_add(struct run *r, const char *type, const char *body, const char *id)
{
    struct mev *e;
    CHECK(r, r->m.n < EV_MAX, "the model is full\n");
    e = &r->m.v[r->m.n++];
    memset(e, 0, sizeof *e);
    snprintf(e->type, sizeof e->type, "%s", type);
    snprintf(e->body, sizeof e->body, "%s", body ? body : "");
    snprintf(e->id, sizeof e->id, "%s", id ? id : "");
    return e;
}

static void
open_ledger(struct run *r)
{
    struct ldg_options o;
    char err[512];
    memset(&o, 0, sizeof o);
    o.flags = LDG_NOSYNC;
    o.map_size_bytes = 64u << 20;
    if (ldg_open(&r->l, r->dir, &o, err, sizeof err) != 0)
        CHECK(r, 0, "open: %s\n", err);
}

/* ------------------------------------------------------------ compare -- */

static void
compare(struct run *r, int verify)
{
    struct ldg_txn *t;
    uint64_t size = 0;
    CHECK(r, ldg_txn_begin(r->l, LDG_TXN_READ, &t) == 0, "txn\n");
    CHECK(r, ldg_txn_size(t, &size) == 0 && size == r->m.n,
          "size %llu, the model has %llu\n", (unsigned long long)size,
          (unsigned long long)r->m.n);
    for (uint64_t s = 0; s < r->m.n; s++) {
        const struct mev *e = &r->m.v[s];
        struct ldg_event ev;
        json_t *b = NULL, *want;
        int rc = ldg_event_get(t, s, &ev);
        if (s < r->m.horizon) {
            CHECK(r, rc == LDG_EPRUNED, "event %llu: %d, not pruned\n",
                  (unsigned long long)s, rc);
            continue;
        }
        CHECK(r, rc == 0, "event %llu: %s\n", (unsigned long long)s,
              ldg_strerror(rc));
        CHECK(r, strcmp(ev.type, e->type) == 0, "event %llu: type %s, not %s\n",
              (unsigned long long)s, ev.type, e->type);
        CHECK(r,
              ev.id_len == strlen(e->id) &&
                  memcmp(ev.id_len ? ev.id : "", e->id, ev.id_len) == 0,
              "event %llu: id '%.*s', not '%s'\n", (unsigned long long)s,
              (int)ev.id_len, ev.id_len ? ev.id : "", e->id);
        if (e->body[0] == '\0')
            continue;
        rc = ldg_body_get(t, s, &b);
        if (e->erased) {
            CHECK(r, rc == LDG_EERASED, "event %llu: body %d, not erased\n",
                  (unsigned long long)s, rc);
            continue;
        }
        want = json_loads(e->body, 0, NULL);
        CHECK(r, rc == 0 && json_equal(b, want), "event %llu: another body\n",
              (unsigned long long)s);
        json_decref(want);
        json_decref(b);
    }
    ldg_txn_abort(t);
    if (verify) {
        struct ldg_verify_report vr;
        memset(&vr, 0, sizeof vr);
        CHECK(r,
              ldg_verify(r->l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0, &vr,
                         NULL, NULL) == 0,
              "verify: event %llu: %s\n", (unsigned long long)vr.bad_seq,
              vr.what);
    }
}

/* --------------------------------------------------------- operations -- */

static void
fill_event(struct run *r, char *body, size_t cap, char *id, size_t idcap)
{
    snprintf(body, cap, "{\"k\":%llu,\"w\":\"%.*s\"}",
             (unsigned long long)(rnd(r) % 100000), (int)(rnd(r) % 40),
             "abcdefghijklmnopqrstuvwxyz0123456789abcdef");
    id[0] = '\0';
    if (rnd(r) % 2)
        snprintf(id, idcap, "m-%llu", (unsigned long long)++r->ids);
}

static void
in_of(struct ldg_event_in *in, const char *type, json_t *b, const char *id)
{
    memset(in, 0, sizeof *in);
    in->type = type;
    in->body = b;
    in->id = id[0] ? id : NULL;
}

static void
op_append(struct run *r)
{
    char body[96], id[24];
    struct ldg_event_in in;
    uint64_t seq = 0;
    json_t *b;
    int rc;
    fill_event(r, body, sizeof body, id, sizeof id);
    b = json_loads(body, 0, NULL);
    in_of(&in, "x.model.a", b, id);
    rc = ldg_append(r->l, &in, &seq);
    json_decref(b);
    say(r, "append %s id=%s -> %llu\n", body, id, (unsigned long long)seq);
    CHECK(r, rc == 0 && seq == r->m.n, "append: %s (%s)\n", ldg_strerror(rc),
          ldg_errmsg(r->l));
    model_add(r, "x.model.a", body, id);
    r->m.ckpt[r->m.n] = 1;
}

static void
op_batch(struct run *r)
{
    struct ldg_batch *bt = NULL;
    int k = 1 + (int)(rnd(r) % 8), rc;
    uint64_t first = 0, n = 0;
    CHECK(r, ldg_batch_begin(&bt, r->l) == 0, "batch_begin\n");
    for (int i = 0; i < k; i++) {
        char body[96], id[24];
        struct ldg_event_in in;
        json_t *b;
        fill_event(r, body, sizeof body, id, sizeof id);
        b = json_loads(body, 0, NULL);
        in_of(&in, "x.model.b", b, id);
        rc = ldg_batch_add(bt, &in);
        json_decref(b);
        CHECK(r, rc == 0, "batch_add: %s\n", ldg_strerror(rc));
        model_add(r, "x.model.b", body, id);
    }
    rc = ldg_batch_commit(bt, &first, &n);
    ldg_batch_free(bt);
    say(r, "batch of %d -> %llu..\n", k, (unsigned long long)first);
    CHECK(r, rc == 0 && n == (uint64_t)k && first + n == r->m.n,
          "batch commit: %s\n", ldg_strerror(rc));
    r->m.ckpt[r->m.n] = 1;
}

/* A kept, not erased event of the model's own with an id; -1 if none. */
static int64_t
pick_with_id(struct run *r)
{
    for (int tries = 0; tries < 20 && r->m.n > r->m.horizon; tries++) {
        uint64_t s = r->m.horizon + rnd(r) % (r->m.n - r->m.horizon);
        const struct mev *e = &r->m.v[s];
        if (e->id[0] && !e->erased && strncmp(e->type, "x.model.", 8) == 0)
            return (int64_t)s;
    }
    return -1;
}

static void
op_dup(struct run *r)
{
    int64_t s = pick_with_id(r);
    struct ldg_event_in in;
    uint64_t seq = 0;
    unsigned differs = 0;
    json_t *b;
    int same = (int)(rnd(r) % 2), rc;
    if (s < 0)
        return op_append(r);
    b = same ? json_loads(r->m.v[s].body, 0, NULL)
             : json_pack("{s:s}", "other", "body");
    in_of(&in, r->m.v[s].type, b, r->m.v[s].id);
    rc = ldg_append_ex(r->l, &in, &seq, &differs);
    json_decref(b);
    say(r, "id %s again (%s body)\n", r->m.v[s].id, same ? "same" : "another");
    CHECK(r, rc == LDG_EDUPLICATE && seq == (uint64_t)s,
          "the same id: %s, seq %llu\n", ldg_strerror(rc),
          (unsigned long long)seq);
    CHECK(r, same ? differs == 0 : (differs & LDG_DIFF_BODY) != 0,
          "differs %u\n", differs);
}

static void
op_erase(struct run *r)
{
    char body[96];
    uint64_t seq = 0, target;
    int64_t s = -1;
    for (int tries = 0; tries < 20 && r->m.n > r->m.horizon; tries++) {
        target = r->m.horizon + rnd(r) % (r->m.n - r->m.horizon);
        if (strncmp(r->m.v[target].type, "x.model.", 8) == 0 &&
            !r->m.v[target].erased) {
            s = (int64_t)target;
            break;
        }
    }
    if (s < 0)
        return op_append(r);
    snprintf(body, sizeof body, "{\"target_seq\":%lld,\"reason\":\"model\"}",
             (long long)s);
    seq = t_append(r->l, LDG_EV_BODY_ERASED, body, NULL);
    say(r, "erase %lld -> %llu\n", (long long)s, (unsigned long long)seq);
    CHECK(r, seq == r->m.n, "erase at %llu\n", (unsigned long long)seq);
    model_add(r, LDG_EV_BODY_ERASED, body, NULL);
    r->m.v[s].erased = 1;
    r->m.ckpt[r->m.n] = 1;
}

static void
op_prune(struct run *r)
{
    char before[32], file[400];
    struct ldg_archive_opts ao;
    struct ldg_archive_report ar;
    struct ldg_prune_opts po;
    struct ldg_prune_report pr;
    uint64_t b, want = 0;
    int rc;
    if (r->m.n <= r->m.horizon + 2)
        return op_append(r);
    b = r->m.horizon + 1 + rnd(r) % (r->m.n - r->m.horizon);
    for (uint64_t s = b; s > r->m.horizon; s--)
        if (r->m.ckpt[s]) {
            want = s;
            break;
        }
    snprintf(before, sizeof before, "%llu", (unsigned long long)b);
    snprintf(file, sizeof file, "%s/a-%llu.archive", r->dir,
             (unsigned long long)b);
    memset(&ao, 0, sizeof ao);
    ao.before = before;
    ao.out = file;
    rc = ldg_retention_archive(r->l, &ao, &ar);
    say(r, "archive before %s (horizon %llu expected): %d\n", before,
        (unsigned long long)want, rc);
    if (want == 0) {
        CHECK(r, rc == LDG_ENOTFOUND, "archive with nothing to take: %s\n",
              ldg_strerror(rc));
        return;
    }
    CHECK(r, rc == 0 && ar.h.horizon == want, "archive: %s, horizon %llu\n",
          ldg_errmsg(r->l), (unsigned long long)ar.h.horizon);
    memset(&po, 0, sizeof po);
    po.before = before;
    po.archive = file;
    rc = ldg_retention_prune(r->l, &po, &pr);
    CHECK(r, rc == 0 && pr.h.horizon == want && pr.pruned_seq == r->m.n,
          "prune: %s\n", ldg_errmsg(r->l));
    unlink(file);
    r->m.horizon = want;
    model_add(r, LDG_EV_LEDGER_PRUNED, NULL, NULL);
    r->m.ckpt[r->m.n] = 1;
}

static void
op_reopen(struct run *r)
{
    say(r, "reopen\n");
    ldg_close(r->l);
    open_ledger(r);
}

/* The child of a crash: appends x.model.c events {"c": i} one a commit,
 * writing each seq to fd once its append returned (durably committed). */
static void
crash_child(const char *dir, int fd)
{
    struct ldg_ledger *l = NULL;
    char err[256];
    if (ldg_open(&l, dir, NULL, err, sizeof err) != 0)
        _exit(3);
    for (int i = 0;; i++) {
        struct ldg_event_in in;
        uint64_t seq;
        json_t *b = json_pack("{s:i}", "c", i);
        memset(&in, 0, sizeof in);
        in.type = "x.model.c";
        in.body = b;
        if (ldg_append(l, &in, &seq) != 0)
            _exit(4);
        json_decref(b);
        if (write(fd, &seq, sizeof seq) != (ssize_t)sizeof seq)
            _exit(5);
    }
}

static void
op_crash(struct run *r)
{
    int p[2], st = 0;
    uint64_t acked = 0, seq, size = 0;
    long wait_us = (long)(rnd(r) % 4000);
    unsigned reads = (unsigned)(rnd(r) % 4);
    pid_t pid;
    struct ldg_txn *t;

    ldg_close(r->l);
    r->l = NULL;
    CHECK(r, pipe(p) == 0, "pipe\n");
    pid = fork();
    CHECK(r, pid >= 0, "fork\n");
    if (pid == 0) {
        close(p[0]);
        crash_child(r->dir, p[1]);
    }
    close(p[1]);
    /* a few acknowledgements, then a moment more, then SIGKILL */
    for (unsigned i = 0; i < reads; i++)
        if (read(p[0], &seq, sizeof seq) == (ssize_t)sizeof seq)
            acked++;
    if (wait_us > 0) {
        struct timespec ts = {0, wait_us * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    while (read(p[0], &seq, sizeof seq) == (ssize_t)sizeof seq)
        acked++; /* written before the kill: acknowledged */
    close(p[0]);
    CHECK(r, WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
          "the child ended otherwise (status %d)\n", st);
    r->crashes++;
    open_ledger(r);
    CHECK(r, ldg_txn_begin(r->l, LDG_TXN_READ, &t) == 0, "txn\n");
    CHECK(r, ldg_txn_size(t, &size) == 0, "size\n");
    ldg_txn_abort(t);
    say(r, "crash after %llu acknowledged: %llu events more\n",
        (unsigned long long)acked, (unsigned long long)(size - r->m.n));
    CHECK(r, size >= r->m.n + acked, "an acknowledged event is lost\n");
    for (uint64_t i = 0; r->m.n < size; i++) {
        char body[32];
        snprintf(body, sizeof body, "{\"c\":%llu}", (unsigned long long)i);
        model_add(r, "x.model.c", body, NULL);
        r->m.ckpt[r->m.n] = 1;
    }
}

/* ---------------------------------------------------------------- run -- */

static void
run_seed(uint64_t seed, int steps, int format)
{
    static struct run r; /* (large: not on the stack) */
    struct ldg_ledger *l0;

    memset(&r, 0, sizeof r);
    r.seed = seed;
    r.rng = seed * 2654435761u + 1;
    r.format = format;
    r.m.layout = LDG_LAYOUT_NEWEST;
    l0 = t_ledger_new_layout(r.dir, sizeof r.dir, 0, (unsigned)format,
                             (unsigned)r.m.layout);
    r.l = l0;
    say(&r, "seed %llu, format %d, layout %d\n", (unsigned long long)seed,
        format, r.m.layout);
    model_add(&r, LDG_EV_LEDGER_GENESIS, NULL, NULL);
    r.m.ckpt[1] = 1;
    compare(&r, 1);
    for (int i = 0; i < steps; i++) {
        unsigned op = (unsigned)(rnd(&r) % 100);
        if (op < 30)
            op_append(&r);
        else if (op < 48)
            op_batch(&r);
        else if (op < 58)
            op_dup(&r);
        else if (op < 64)
            op_erase(&r);
        else if (op < 74)
            op_prune(&r);
        else if (op < 79)
            op_batch(&r);
        else if (op < 92)
            op_crash(&r);
        else
            op_reopen(&r);
        compare(&r, i % 8 == 7);
    }
    compare(&r, 1);
    CHECK(&r, r.crashes > 0 || steps < 20, "no crash was tried\n");
    if (getenv("LEDGER_MODEL_VERBOSE") != NULL)
        fprintf(stderr, "%s", r.trace);
    ldg_close(r.l);
    t_rmrf(r.dir);
}

static int
env_int(const char *name, int dflt)
{
    const char *v = getenv(name);
    return v && *v ? atoi(v) : dflt;
}

static void
test_model__the_log_is_what_the_model_says(void **state)
{
    const char *seeds = getenv("LEDGER_MODEL_SEEDS");
    int steps = env_int("LEDGER_MODEL_STEPS", 60);
    (void)state;
    if (seeds == NULL || !*seeds)
        seeds = "1 2 3 4";
    for (const char *p = seeds; *p;) {
        char *end;
        unsigned long long s = strtoull(p, &end, 10);
        if (end == p)
            break;
        /* both ledger formats: signed events (1) and sealed ones (2) */
        run_seed(s, steps, s % 2 ? 2 : 1);
        p = end;
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model__the_log_is_what_the_model_says),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
