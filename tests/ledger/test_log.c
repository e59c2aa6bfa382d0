/*
 * test_log.c — init/open, append, the bulk writer, keys, timestamps, map
 * growth, read-only handles.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "ledger/ledger_int.h"
#include "tests/support/support.h"

static void
test_log__init_writes_genesis_and_checkpoint(void **state)
{
    char dir[256], err[256], *note = NULL;
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 1);
    struct ldg_txn *t;
    struct ldg_event ev;
    struct stat st;
    uint64_t size;
    char path[300];
    (void)state;

    assert_int_equal(ldg_size(l, &size), 0);
    assert_int_equal(size, 1);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_event_get(t, 0, &ev), 0);
    assert_string_equal(ev.type, "ledger.genesis");
    assert_string_equal(ev.actor, ldg_log_key(l)->key_id);
    assert_int_equal(ldg_checkpoint_get(t, 1, &note), 0);
    assert_non_null(strstr(note, "test.local/unit\n1\n"));
    free(note);
    ldg_txn_abort(t);
    /* key file 0600 in a 0700 directory */
    snprintf(path, sizeof path, "%s/keys", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    snprintf(path, sizeof path, "%s/keys/log.key", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* a second init refuses */
    assert_int_equal(ldg_init(dir, NULL, NULL, err, sizeof err), LDG_EEXIST);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_log__append_derives_subject_and_run(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_txn *t;
    struct ldg_event ev;
    json_t *b;
    uint64_t s1, s2;
    (void)state;

    s1 = t_append(l, "route.decision",
                  "{\"route\":\"pdf-ops/extract\",\"chosen_model\":\"m\","
                  "\"run\":\"R-7\"}",
                  NULL);
    s2 = t_append(l, "host.profile",
                  "{\"cpu\":\"x\",\"cores\":2,\"ram_mb\":1024}", NULL);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_event_get(t, s1, &ev), 0);
    assert_string_equal(ev.subject, "route:pdf-ops/extract");
    assert_string_equal(ev.run, "R-7");
    assert_int_equal(ldg_body_get(t, s1, &b), 0);
    assert_string_equal(json_string_value(json_object_get(b, "chosen_model")),
                        "m");
    json_decref(b);
    assert_int_equal(ldg_event_get(t, s2, &ev), 0);
    assert_string_equal(ev.subject, "host:local");
    assert_string_equal(ev.run, "");
    ldg_txn_abort(t);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_log__bad_input_changes_nothing(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_event_in in;
    uint64_t before, after;
    json_t *b;
    (void)state;

    assert_int_equal(ldg_size(l, &before), 0);
    memset(&in, 0, sizeof in);
    in.type = "route.decision";
    b = json_pack("{s:s}", "route", "r");
    in.body = b;
    assert_int_equal(ldg_append(l, &in, NULL), LDG_EBADINPUT);
    assert_non_null(strstr(ldg_errmsg(l), "chosen_model"));
    json_decref(b);
    in.type = "no.such";
    b = json_object();
    in.body = b;
    assert_int_equal(ldg_append(l, &in, NULL), LDG_EBADINPUT);
    assert_non_null(strstr(ldg_errmsg(l), "x."));
    in.type = "ledger.genesis";
    assert_int_equal(ldg_append(l, &in, NULL), LDG_EBADINPUT);
    in.type = "x.ok";
    in.subject = "nocolon";
    assert_int_equal(ldg_append(l, &in, NULL), LDG_EBADINPUT);
    in.subject = NULL;
    in.has_parent = 1;
    in.parent = 99;
    assert_int_equal(ldg_append(l, &in, NULL), LDG_EBADINPUT);
    in.has_parent = 0;
    in.actor = "nobody";
    assert_int_equal(ldg_append(l, &in, NULL), LDG_EKEY);
    json_decref(b);
    /* an oversized body is refused */
    {
        char *big = malloc(2 << 20);
        memset(big, 'a', (2 << 20) - 1);
        big[(2 << 20) - 1] = '\0';
        b = json_pack("{s:s}", "blob", big);
        free(big);
        in.actor = NULL;
        in.body = b;
        assert_int_equal(ldg_append(l, &in, NULL), LDG_ETOOBIG);
        json_decref(b);
    }
    assert_int_equal(ldg_size(l, &after), 0);
    assert_int_equal(before, after);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_log__timestamps_never_go_backwards(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_txn *t;
    struct ldg_event a, b;
    uint64_t clock = 2000000000000000000ull, s1, s2;
    (void)state;

    ldg_set_clock(l, &clock);
    s1 = t_append(l, "x.t", "{}", NULL);
    clock -= 1000000000ull; /* the clock jumps back a second */
    s2 = t_append(l, "x.t", "{}", NULL);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_event_get(t, s1, &a), 0);
    assert_int_equal(ldg_event_get(t, s2, &b), 0);
    assert_true(b.ts_ns > a.ts_ns);
    ldg_txn_abort(t);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_log__writer_commits_in_groups_and_counts(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_writer_options wo;
    struct ldg_writer *w;
    struct ldg_verify_report r;
    uint64_t size;
    (void)state;

    memset(&wo, 0, sizeof wo);
    wo.batch = 7;
    wo.threads = 2;
    assert_int_equal(ldg_writer_new(&w, l, &wo), 0);
    for (int i = 0; i < 100; i++) {
        struct ldg_event_in in;
        json_t *b = json_pack("{s:i}", "i", i);
        memset(&in, 0, sizeof in);
        in.type = (i == 50) ? "bad type" : "x.test.n";
        in.body = b;
        if (i == 50)
            assert_int_equal(ldg_writer_add(w, &in), LDG_EBADINPUT);
        else
            assert_int_equal(ldg_writer_add(w, &in), 0);
        json_decref(b);
    }
    assert_int_equal(ldg_writer_flush(w), 0);
    assert_int_equal(ldg_writer_committed(w), 99);
    assert_int_equal(ldg_writer_first_seq(w), 1);
    ldg_writer_free(w);
    assert_int_equal(ldg_size(l, &size), 0);
    assert_int_equal(size, 100);
    assert_int_equal(ldg_verify(l, LDG_VERIFY_FULL, 0, &r, NULL, NULL), 0);
    /* the events are in input order */
    {
        struct ldg_txn *t;
        json_t *b;
        assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
        assert_int_equal(ldg_body_get(t, 99, &b), 0);
        assert_int_equal(json_integer_value(json_object_get(b, "i")), 99);
        json_decref(b);
        ldg_txn_abort(t);
    }
    ldg_close(l);
    t_rmrf(dir);
}

/* The first commit's acknowledgement is held until the test releases it,
 * so the batches added meanwhile are all waiting when the commit thread
 * comes back. */
struct held {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int released;
    uint64_t sizes[16];
    size_t n;
};

static void
held_commit(void *ctx, uint64_t first, uint64_t n)
{
    struct held *h = ctx;
    (void)first;
    pthread_mutex_lock(&h->mu);
    if (h->n < 16)
        h->sizes[h->n] = n;
    h->n++;
    while (h->n == 1 && !h->released)
        pthread_cond_wait(&h->cv, &h->mu);
    pthread_mutex_unlock(&h->mu);
}

/* One round: batches of 10; the first commit held while the rest of 35
 * events are added (more batches sealed, 5 queued); then flush. Returns
 * the largest commit; every event is committed and the log verifies. */
static uint64_t
group_round(unsigned group)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_writer_options wo;
    struct ldg_writer *w;
    struct ldg_verify_report r;
    struct held h;
    uint64_t most = 0, total = 0;

    memset(&h, 0, sizeof h);
    pthread_mutex_init(&h.mu, NULL);
    pthread_cond_init(&h.cv, NULL);
    memset(&wo, 0, sizeof wo);
    wo.batch = 10;
    wo.threads = 2;
    wo.group = group;
    wo.on_commit = held_commit;
    wo.ctx = &h;
    assert_int_equal(ldg_writer_new(&w, l, &wo), 0);
    for (int i = 0; i < 35; i++) {
        struct ldg_event_in in;
        json_t *b = json_pack("{s:i}", "i", i);
        memset(&in, 0, sizeof in);
        in.type = "x.test.n";
        in.body = b;
        assert_int_equal(ldg_writer_add(w, &in), 0);
        json_decref(b);
    }
    usleep(200000); /* the workers prepare batches 2 and 3 */
    pthread_mutex_lock(&h.mu);
    h.released = 1;
    pthread_cond_broadcast(&h.cv);
    pthread_mutex_unlock(&h.mu);
    assert_int_equal(ldg_writer_flush(w), 0);
    assert_int_equal(ldg_writer_committed(w), 35);
    ldg_writer_free(w);
    assert_true(h.n >= 1 && h.n <= 16);
    for (size_t i = 0; i < h.n; i++) {
        total += h.sizes[i];
        if (h.sizes[i] > most)
            most = h.sizes[i];
    }
    assert_int_equal(total, 35);
    assert_int_equal(ldg_verify(l, LDG_VERIFY_FULL, 0, &r, NULL, NULL), 0);
    ldg_close(l);
    t_rmrf(dir);
    pthread_mutex_destroy(&h.mu);
    pthread_cond_destroy(&h.cv);
    return most;
}

/* ldg_writer_options.group: batches that are ready together go into one
 * commit; without it every commit holds exactly one batch. (Whether the
 * workers have prepared both waiting batches when the commit thread looks
 * depends on the scheduler, so up to ten rounds may be tried; without
 * grouping no round ever groups.) */
static void
test_log__writer_groups_ready_batches(void **state)
{
    int grouped = 0;
    (void)state;

    assert_int_equal(group_round(1), 10);
    for (int round = 0; round < 10 && !grouped; round++)
        grouped = group_round(4) > 10;
    assert_true(grouped);
}

static void
sizes_commit(void *ctx, uint64_t first, uint64_t n)
{
    struct held *h = ctx;
    (void)first;
    pthread_mutex_lock(&h->mu);
    if (h->n < 16)
        h->sizes[h->n] = n;
    h->n++;
    pthread_mutex_unlock(&h->mu);
}

/* ldg_writer_options.gather: a commit waits until two batches are ready;
 * a flush commits what there is. */
static void
test_log__writer_gathers_batches(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_writer_options wo;
    struct ldg_writer *w;
    struct held h;
    (void)state;

    memset(&h, 0, sizeof h);
    pthread_mutex_init(&h.mu, NULL);
    memset(&wo, 0, sizeof wo);
    wo.batch = 10;
    wo.group = 4;
    wo.gather = 2;
    wo.on_commit = sizes_commit;
    wo.ctx = &h;
    assert_int_equal(ldg_writer_new(&w, l, &wo), 0);
    for (int i = 0; i < 25; i++) {
        struct ldg_event_in in;
        json_t *b = json_pack("{s:i}", "i", i);
        memset(&in, 0, sizeof in);
        in.type = "x.test.n";
        in.body = b;
        assert_int_equal(ldg_writer_add(w, &in), 0);
        json_decref(b);
        if (i == 9) {
            usleep(100000);
            /* one batch sealed: it waits for a second */
            assert_int_equal(ldg_writer_committed(w), 0);
        }
        /* two batches: committed together, without a flush */
        for (int k = 0; i == 19 && k < 1000 && ldg_writer_committed(w) < 20;
             k++)
            usleep(10000);
        if (i == 19)
            assert_int_equal(ldg_writer_committed(w), 20);
    }
    assert_int_equal(ldg_writer_flush(w), 0);
    assert_int_equal(ldg_writer_committed(w), 25);
    ldg_writer_free(w);
    assert_int_equal(h.n, 2);
    assert_int_equal(h.sizes[0], 20);
    assert_int_equal(h.sizes[1], 5);
    ldg_close(l);
    t_rmrf(dir);
    pthread_mutex_destroy(&h.mu);
}

static void
count_commits(void *ctx, uint64_t first, uint64_t n)
{
    uint64_t *total = ctx;
    (void)first;
    *total += n;
}

/* on_duplicate: each event the writer did not append because its id was
 * in the log (or earlier in its group), with the caller's tag. */
struct dups {
    int n;
    uint64_t tag[8], seq[8];
    unsigned differs[8];
    char id[8][16];
};

static void
note_dup(void *ctx, uint64_t tag, const char *id, uint64_t seq,
         unsigned differs)
{
    struct dups *d = ctx;
    if (d->n < 8) {
        d->tag[d->n] = tag;
        d->seq[d->n] = seq;
        d->differs[d->n] = differs;
        snprintf(d->id[d->n], sizeof d->id[0], "%s", id);
    }
    d->n++;
}

static void
test_log__writer_names_duplicates_by_tag(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_writer_options wo;
    struct ldg_writer *w;
    struct dups d;
    static const char *ids[] = {"a", "b", "a", "c", "b"};
    (void)state;

    memset(&d, 0, sizeof d);
    memset(&wo, 0, sizeof wo);
    wo.batch = 2; /* "a" twice across groups, "b" twice within none */
    wo.threads = 2;
    wo.on_duplicate = note_dup;
    wo.ctx = &d;
    assert_int_equal(ldg_writer_new(&w, l, &wo), 0);
    for (int i = 0; i < 5; i++) {
        struct ldg_event_in in;
        json_t *b = json_pack("{s:i}", "i", i < 3 ? 0 : i);
        memset(&in, 0, sizeof in);
        in.type = "x.test.dup";
        in.body = b;
        in.id = ids[i];
        assert_int_equal(ldg_writer_add_tagged(w, &in, 100 + (uint64_t)i), 0);
        json_decref(b);
    }
    assert_int_equal(ldg_writer_flush(w), 0);
    assert_int_equal(ldg_writer_committed(w), 3);
    ldg_writer_free(w);
    assert_int_equal(d.n, 2);
    /* line 102: "a" again, the same event as seq 1 */
    assert_int_equal(d.tag[0], 102);
    assert_string_equal(d.id[0], "a");
    assert_int_equal(d.seq[0], 1);
    assert_int_equal(d.differs[0], 0);
    /* line 104: "b" again (seq 2) with another body */
    assert_int_equal(d.tag[1], 104);
    assert_string_equal(d.id[1], "b");
    assert_int_equal(d.seq[1], 2);
    assert_int_equal(d.differs[1], LDG_DIFF_BODY);
    ldg_close(l);
    t_rmrf(dir);
}

/* ledger.h's contract for ldg_writer_free: full (sealed) batches are
 * committed, the partial one is dropped, and on_commit has reported every
 * committed event by the time free returns. */
static void
test_log__writer_free_commits_sealed_batches_drops_partial(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_writer_options wo;
    struct ldg_writer *w;
    struct ldg_verify_report r;
    uint64_t size, reported = 0;
    (void)state;

    memset(&wo, 0, sizeof wo);
    wo.batch = 10;
    wo.threads = 2;
    wo.on_commit = count_commits;
    wo.ctx = &reported;
    assert_int_equal(ldg_writer_new(&w, l, &wo), 0);
    for (int i = 0; i < 25; i++) {
        struct ldg_event_in in;
        json_t *b = json_pack("{s:i}", "i", i);
        memset(&in, 0, sizeof in);
        in.type = "x.test.n";
        in.body = b;
        assert_int_equal(ldg_writer_add(w, &in), 0);
        json_decref(b);
    }
    ldg_writer_free(w); /* no flush */
    assert_int_equal(reported, 20);
    assert_int_equal(ldg_size(l, &size), 0);
    assert_int_equal(size, 21); /* genesis + two full batches */
    {
        struct ldg_txn *t;
        json_t *b;
        assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
        assert_int_equal(ldg_body_get(t, 20, &b), 0);
        assert_int_equal(json_integer_value(json_object_get(b, "i")), 19);
        json_decref(b);
        ldg_txn_abort(t);
    }
    assert_int_equal(ldg_verify(l, LDG_VERIFY_FULL, 0, &r, NULL, NULL), 0);
    ldg_close(l);
    t_rmrf(dir);
}

/* ldg_writer_push hands a partial batch to the commit thread: pushed
 * events are committed (free commits every handed-over batch) though no
 * batch filled, more pushes than the ring has slots wait for room, and
 * what was added after the last push is still the partial batch. */
static void
test_log__writer_push_commits_partial_batches(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_writer_options wo;
    struct ldg_writer *w;
    struct ldg_verify_report r;
    uint64_t size, reported = 0;
    int n = 0;
    (void)state;

    memset(&wo, 0, sizeof wo);
    wo.batch = 1000;
    wo.threads = 2;
    wo.on_commit = count_commits;
    wo.ctx = &reported;
    assert_int_equal(ldg_writer_new(&w, l, &wo), 0);
    for (int p = 0; p < 40; p++) { /* 40 pushes: over three rings' worth */
        for (int k = 0; k <= p % 3; k++) {
            struct ldg_event_in in;
            json_t *b = json_pack("{s:i}", "i", n++);
            memset(&in, 0, sizeof in);
            in.type = "x.test.n";
            in.body = b;
            assert_int_equal(ldg_writer_add(w, &in), 0);
            json_decref(b);
        }
        assert_int_equal(ldg_writer_push(w), 0);
    }
    assert_int_equal(ldg_writer_push(w), 0); /* nothing queued: a no-op */
    {
        struct ldg_event_in in;
        json_t *b = json_pack("{s:i}", "i", -1);
        memset(&in, 0, sizeof in);
        in.type = "x.test.n";
        in.body = b;
        assert_int_equal(ldg_writer_add(w, &in), 0); /* never pushed */
        json_decref(b);
    }
    ldg_writer_free(w); /* no flush */
    assert_int_equal(reported, (uint64_t)n);
    assert_int_equal(ldg_size(l, &size), 0);
    assert_int_equal(size, (uint64_t)n + 1); /* genesis + every pushed one */
    {
        struct ldg_txn *t;
        json_t *b;
        assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
        assert_int_equal(ldg_body_get(t, (uint64_t)n, &b), 0);
        assert_int_equal(json_integer_value(json_object_get(b, "i")), n - 1);
        json_decref(b);
        ldg_txn_abort(t);
    }
    assert_int_equal(ldg_verify(l, LDG_VERIFY_FULL, 0, &r, NULL, NULL), 0);
    ldg_close(l);
    t_rmrf(dir);
}

/* A second handle appending between the writer's groups: the writer's
 * predicted stamps are wrong and must be redone. */
static void
test_log__writer_survives_interleaved_appends(void **state)
{
    char dir[256], err[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0), *l2;
    struct ldg_writer_options wo;
    struct ldg_writer *w;
    struct ldg_verify_report r;
    struct ldg_options o;
    (void)state;

    memset(&o, 0, sizeof o);
    o.flags = LDG_NOSYNC;
    assert_int_equal(ldg_open(&l2, dir, &o, err, sizeof err), 0);
    memset(&wo, 0, sizeof wo);
    wo.batch = 5;
    assert_int_equal(ldg_writer_new(&w, l, &wo), 0);
    for (int i = 0; i < 40; i++) {
        struct ldg_event_in in;
        json_t *b = json_pack("{s:i}", "i", i);
        memset(&in, 0, sizeof in);
        in.type = "x.test.n";
        in.body = b;
        assert_int_equal(ldg_writer_add(w, &in), 0);
        json_decref(b);
        if (i % 9 == 0) {
            assert_int_equal(ldg_writer_flush(w), 0);
            t_append(l2, "x.test.other", "{}", NULL);
        }
    }
    assert_int_equal(ldg_writer_flush(w), 0);
    assert_int_equal(ldg_writer_committed(w), 40);
    ldg_writer_free(w);
    assert_int_equal(ldg_verify(l, LDG_VERIFY_FULL, 0, &r, NULL, NULL), 0);
    assert_int_equal(r.to, 1 + 40 + 5);
    ldg_close(l2);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_log__keys_add_revoke_and_refuse(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_keyinfo *k;
    struct ldg_event_in in;
    json_t *b = json_object();
    uint64_t seq;
    size_t n;
    (void)state;

    assert_int_equal(ldg_keys_add(l, "alice", "x,run", &seq), 0);
    assert_int_equal(seq, 1);
    assert_int_equal(ldg_keys_add(l, "alice", NULL, NULL), LDG_EEXIST);
    assert_int_equal(ldg_keys_add(l, "log", NULL, NULL), LDG_EEXIST);
    assert_int_equal(ldg_keys_add(l, "bad name", NULL, NULL), LDG_EINVAL);
    t_append(l, "x.t", "{}", "alice");
    assert_int_equal(ldg_keys_list(l, &k, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(k[0].name, "log");
    assert_string_equal(k[1].name, "alice");
    assert_int_equal(k[1].revoked_seq, UINT64_MAX);
    assert_true(k[1].has_secret);
    free(k);
    assert_int_equal(ldg_keys_revoke(l, "alice", "lost", &seq), 0);
    assert_int_equal(ldg_keys_revoke(l, "alice", "again", NULL), LDG_EBADINPUT);
    assert_int_equal(ldg_keys_revoke(l, "log", "no", NULL), LDG_EBADINPUT);
    memset(&in, 0, sizeof in);
    in.type = "x.t";
    in.body = b;
    in.actor = "alice";
    assert_int_equal(ldg_append(l, &in, NULL), LDG_EKEY);
    assert_non_null(strstr(ldg_errmsg(l), "revoked"));
    /* a new key may take the name once the old one is revoked */
    assert_int_equal(ldg_keys_add(l, "alice2", NULL, NULL), 0);
    json_decref(b);
    ldg_close(l);
    t_rmrf(dir);
}

/* Appends type with an empty body as actor; returns ldg_append's code. */
static int
append_as(struct ldg_ledger *l, const char *type, const char *body,
          const char *actor)
{
    struct ldg_event_in in;
    json_t *b = json_loads(body, 0, NULL);
    int rc;
    memset(&in, 0, sizeof in);
    in.type = type;
    in.body = b;
    in.actor = actor;
    rc = ldg_append(l, &in, NULL);
    json_decref(b);
    return rc;
}

/* Roles are enforced: a key signs only the types its roles allow; the log
 * key and a key added without roles sign any type an actor key may. */
static void
test_log__key_roles_are_enforced_at_append(void **state)
{
    char dir[256], path[300];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    const char *decision = "{\"route\":\"p/x\",\"chosen_model\":\"m\"}";
    const char *step = "{\"run\":\"R-1\",\"step\":\"s\",\"tool\":\"t\","
                       "\"status\":\"ok\"}";
    uint64_t n0, n1;
    (void)state;

    assert_int_equal(ldg_keys_add(l, "runner", "run", NULL), 0);
    assert_int_equal(ldg_keys_add(l, "cp", "control-plane,x", NULL), 0);
    assert_int_equal(ldg_keys_add(l, "free", NULL, NULL), 0);
    assert_int_equal(append_as(l, "run.step", step, "runner"), 0);
    assert_int_equal(ldg_size(l, &n0), 0);
    assert_int_equal(append_as(l, "route.decision", decision, "runner"),
                     LDG_EKEY);
    assert_non_null(strstr(ldg_errmsg(l), "may not sign route.decision"));
    assert_non_null(strstr(ldg_errmsg(l), "'runner'"));
    assert_int_equal(append_as(l, "x.t", "{}", "runner"), LDG_EKEY);
    assert_int_equal(append_as(l, "body.erased",
                               "{\"target_seq\":4,\"reason\":\"r\"}", "runner"),
                     LDG_EKEY);
    assert_int_equal(ldg_size(l, &n1), 0);
    assert_int_equal(n0, n1); /* nothing written */
    assert_int_equal(append_as(l, "route.decision", decision, "cp"), 0);
    assert_int_equal(append_as(l, "x.t", "{}", "cp"), 0);
    assert_int_equal(append_as(l, "run.step", step, "cp"), LDG_EKEY);
    assert_int_equal(append_as(l, "run.step", step, "free"), 0);
    assert_int_equal(append_as(l, "route.decision", decision, "free"), 0);
    assert_int_equal(append_as(l, "route.decision", decision, NULL), 0);
    /* after a reopen (no cached proof) the roles still hold */
    ldg_close(l);
    assert_int_equal(ldg_open(&l, dir, NULL, NULL, 0), 0);
    assert_int_equal(append_as(l, "route.decision", decision, "runner"),
                     LDG_EKEY);
    assert_int_equal(append_as(l, "run.step", step, "runner"), 0);
    /* an unknown role is refused before any key file is written */
    assert_int_equal(ldg_keys_add(l, "typo", "rn", NULL), LDG_EINVAL);
    assert_non_null(strstr(ldg_errmsg(l), "unknown role 'rn'"));
    snprintf(path, sizeof path, "%s/keys/typo.key", dir);
    assert_int_equal(access(path, F_OK), -1);
    /* and so is a key.added carrying one, however it comes */
    assert_int_equal(
        append_as(l, "key.added",
                  "{\"key_id\":\"0000000000000000\",\"public_key\":\"00\","
                  "\"actor\":\"z\",\"roles\":[\"run\",7]}",
                  NULL),
        LDG_EBADINPUT);
    assert_non_null(strstr(ldg_errmsg(l), "roles"));
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_log__loose_key_file_permissions_are_refused(void **state)
{
    char dir[256], path[300];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_event_in in;
    json_t *b = json_object();
    (void)state;

    assert_int_equal(ldg_keys_add(l, "bob", NULL, NULL), 0);
    snprintf(path, sizeof path, "%s/keys/bob.key", dir);
    assert_int_equal(chmod(path, 0644), 0);
    memset(&in, 0, sizeof in);
    in.type = "x.t";
    in.body = b;
    in.actor = "bob";
    assert_int_equal(ldg_append(l, &in, NULL), LDG_EKEY);
    assert_non_null(strstr(ldg_errmsg(l), "0644"));
    assert_int_equal(chmod(path, 0600), 0);
    snprintf(path, sizeof path, "%s/keys", dir);
    assert_int_equal(chmod(path, 0755), 0);
    assert_int_equal(ldg_append(l, &in, NULL), LDG_EKEY);
    assert_non_null(strstr(ldg_errmsg(l), "0755"));
    assert_int_equal(chmod(path, 0700), 0);
    json_decref(b);
    ldg_close(l);
    t_rmrf(dir);
}

/* A small map grows; a map that may not grow fails cleanly with nothing
 * lost. */
static void
test_log__full_map_grows_or_fails_cleanly(void **state)
{
    char dir[256], err[256];
    struct ldg_options o;
    struct ldg_ledger *l;
    struct ldg_writer *w;
    struct ldg_verify_report r;
    uint64_t size, committed;
    int rc = 0;
    (void)state;

    snprintf(dir, sizeof dir, "/tmp/ldgtest.XXXXXX");
    assert_non_null(mkdtemp(dir));
    memset(&o, 0, sizeof o);
    o.flags = LDG_NOSYNC;
    o.map_size_bytes = 256 * 1024;
    assert_int_equal(ldg_init(dir, "t.local/map", &o, err, sizeof err), 0);
    assert_int_equal(ldg_open(&l, dir, &o, err, sizeof err), 0);
    t_append_many(l, 3000); /* ~several MiB: must grow */
    assert_int_equal(ldg_size(l, &size), 0);
    assert_int_equal(size, 3001);
    ldg_close(l);

    o.map_max_bytes = 4u << 20; /* then cap it */
    assert_int_equal(ldg_open(&l, dir, &o, err, sizeof err), 0);
    assert_int_equal(ldg_writer_new(&w, l, NULL), 0);
    for (int i = 0; i < 100000 && rc == 0; i++) {
        struct ldg_event_in in;
        json_t *b =
            json_pack("{s:i, s:s}", "i", i, "pad",
                      "................................................"
                      "................................................");
        memset(&in, 0, sizeof in);
        in.type = "x.test.fill";
        in.body = b;
        rc = ldg_writer_add(w, &in);
        json_decref(b);
    }
    if (rc == 0)
        rc = ldg_writer_flush(w);
    assert_int_equal(rc, LDG_EFULL);
    assert_non_null(strstr(ldg_errmsg(l), "full"));
    committed = ldg_writer_committed(w);
    ldg_writer_free(w);
    assert_int_equal(ldg_size(l, &size), 0);
    assert_int_equal(size, 3001 + committed);
    assert_int_equal(
        ldg_verify(l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0, &r, NULL, NULL),
        0);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_log__read_only_handle_refuses_appends(void **state)
{
    char dir[256], err[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0), *ro;
    struct ldg_options o;
    struct ldg_event_in in;
    json_t *b = json_object();
    (void)state;

    ldg_close(l);
    memset(&o, 0, sizeof o);
    o.flags = LDG_RDONLY;
    assert_int_equal(ldg_open(&ro, dir, &o, err, sizeof err), 0);
    memset(&in, 0, sizeof in);
    in.type = "x.t";
    in.body = b;
    assert_int_equal(ldg_append(ro, &in, NULL), LDG_EINVAL);
    json_decref(b);
    ldg_close(ro);
    assert_int_equal(ldg_open(&ro, "/nonexistent/ledger", &o, err, sizeof err),
                     LDG_ENOTFOUND);
    assert_non_null(strstr(err, "ledger init"));
    t_rmrf(dir);
}

/* The fast read paths give what the strict ones give. */
static void
test_log__fast_read_paths_match_the_strict_ones(void **state)
{
    static const char *bodies[] = {
        "{}",
        "{\"s\":\"h\u00e9llo \\\"q\\\" \\\\ /\\n\\t\\u0001\\u001f\"}",
        "{\"f\":0.1,\"g\":1.0,\"h\":-2.5e-300,\"i\":-9223372036854775807,"
        "\"j\":9223372036854775807}",
        "{\"a\":[1,[2,{\"z\":null,\"b\":true,\"a\":false}]],\"o\":{\"k\":[]}}",
        "{\"big\":\"0123456789012345678901234567890123456789012345678901234567"
        "8901234567890123456789012345678901234567890123456789012345678901234567"
        "8901234567890123456789012345678901234567890123456789012345678901234567"
        "8901234567890123456789012345678901234567890123456789012345678901234567"
        "8901234567890123456789012345678901234567890123456789012345678901234567"
        "89012345678901234567890123456789012345678901234567890123456789\","
        "\"big2\":\"0123456789012345678901234567890123456789012345678901234567"
        "8901234567890123456789012345678901234567890123456789012345678901234567"
        "8901234567890123456789012345678901234567890123456789012345678901234567"
        "89012345678901234567890123456789012345678901234567890123456789\"}",
    };
    char dir[256], *buf = NULL;
    size_t len = 0, cap = 0;
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_txn *t;
    (void)state;

    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        uint64_t seq = t_append(l, "x.t", bodies[i], NULL);
        struct ldg_event a, b;
        json_t *j;
        char *want;
        assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
        assert_int_equal(ldg_event_get(t, seq, &a), 0);
        assert_int_equal(ldg_event_get_ex(t, seq, &b, LDG_DECODE_TRUSTED), 0);
        assert_memory_equal(a.leaf, b.leaf, 32);
        assert_string_equal(a.type, b.type);
        assert_int_equal(a.ts_ns, b.ts_ns);
        assert_int_equal(ldg_body_get(t, seq, &j), 0);
        want = json_dumps(j, JSON_COMPACT);
        len = 0;
        assert_int_equal(ldg_body_json_append(t, seq, &buf, &len, &cap), 0);
        assert_string_equal(buf, want);
        assert_int_equal(len, strlen(want));
        free(want);
        json_decref(j);
        ldg_txn_abort(t);
    }
    /* appends after what is there */
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    len = 0;
    assert_int_equal(ldg_body_json_append(t, 1, &buf, &len, &cap), 0);
    assert_int_equal(ldg_body_json_append(t, 1, &buf, &len, &cap), 0);
    assert_string_equal(buf, "{}{}");
    ldg_txn_abort(t);
    free(buf);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_log__default_dir_resolution(void **state)
{
    char buf[512];
    (void)state;
    assert_int_equal(ldg_default_dir(buf, sizeof buf, "/x/y"), 0);
    assert_string_equal(buf, "/x/y");
    setenv("LEDGER_DIR", "/from/env", 1);
    assert_int_equal(ldg_default_dir(buf, sizeof buf, NULL), 0);
    assert_string_equal(buf, "/from/env");
    unsetenv("LEDGER_DIR");
    setenv("XDG_STATE_HOME", "/xdg", 1);
    assert_int_equal(ldg_default_dir(buf, sizeof buf, NULL), 0);
    assert_string_equal(buf, "/xdg/ledger");
    unsetenv("XDG_STATE_HOME");
    setenv("HOME", "/home/u", 1);
    assert_int_equal(ldg_default_dir(buf, sizeof buf, NULL), 0);
    assert_string_equal(buf, "/home/u/.local/state/ledger");
}

/* An id is appended once: again (from this handle, after reopening, in a
 * batch, through the writer) it gives the first event's seq and appends
 * nothing; the ledger still verifies. */
static void
test_log__ids_are_idempotent(void **state)
{
    char dir[256], err[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_options o = {.flags = LDG_NOSYNC};
    struct ldg_source src = {1000, 1000, 77, "/bin/x", NULL};
    struct ldg_event_in in;
    struct ldg_verify_report rep;
    struct ldg_batch *b;
    struct ldg_writer *w;
    struct ldg_txn *t;
    struct ldg_event ev;
    uint64_t seq = 0, again = 0, size0, size1, s2 = 0;
    (void)state;

    memset(&in, 0, sizeof in);
    in.type = "x.a";
    in.body = json_pack("{s:i}", "i", 1);
    in.id = "k-1";
    in.has_time = 1;
    in.time_ns = 12345;
    in.source = &src;
    assert_int_equal(ldg_append(l, &in, &seq), 0);
    assert_int_equal(ldg_size(l, &size0), 0);
    assert_int_equal(ldg_append(l, &in, &again), LDG_EDUPLICATE);
    assert_true(again == seq);
    assert_int_equal(ldg_size(l, &size1), 0);
    assert_true(size1 == size0);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_event_get(t, seq, &ev), 0);
    assert_true(ev.id_len == 3 && memcmp(ev.id, "k-1", 3) == 0);
    assert_true(ev.has_time && ev.time_ns == 12345);
    assert_true(ev.has_source && ev.src_pid == 77 && ev.src_unit_len == 0);
    ldg_txn_abort(t);
    ldg_close(l);

    assert_int_equal(ldg_open(&l, dir, &o, err, sizeof err), 0);
    assert_int_equal(ldg_append(l, &in, &again), LDG_EDUPLICATE);
    assert_true(again == seq);
    /* a batch: the old id, a new one twice */
    assert_int_equal(ldg_batch_begin(&b, l), 0);
    assert_int_equal(ldg_batch_add_seq(b, &in, &again, NULL), LDG_EDUPLICATE);
    assert_true(again == seq);
    in.id = "k-2";
    assert_int_equal(ldg_batch_add_seq(b, &in, &s2, NULL), 0);
    assert_int_equal(ldg_batch_add_seq(b, &in, &again, NULL), LDG_EDUPLICATE);
    assert_true(again == s2);
    assert_int_equal(ldg_batch_commit(b, NULL, NULL), 0);
    ldg_batch_free(b);
    /* the writer: k-2 again and k-3 twice: one event stored */
    assert_int_equal(ldg_size(l, &size0), 0);
    assert_int_equal(ldg_writer_new(&w, l, NULL), 0);
    assert_int_equal(ldg_writer_add(w, &in), 0);
    in.id = "k-3";
    assert_int_equal(ldg_writer_add(w, &in), 0);
    assert_int_equal(ldg_writer_add(w, &in), 0);
    assert_int_equal(ldg_writer_flush(w), 0);
    assert_true(ldg_writer_committed(w) == 1);
    ldg_writer_free(w);
    assert_int_equal(ldg_size(l, &size1), 0);
    assert_true(size1 == size0 + 1);
    /* the same id for another event: the first one's seq, nothing
     * appended, and what differs is said */
    {
        unsigned differs = 99;
        json_t *other = json_pack("{s:i}", "i", 2), *keep = in.body;
        char names[96];
        assert_int_equal(ldg_size(l, &size0), 0);
        in.id = "k-1";
        assert_int_equal(ldg_append_ex(l, &in, &again, &differs),
                         LDG_EDUPLICATE);
        assert_true(again == seq);
        assert_int_equal(differs, 0); /* the very same event */
        in.body = other;
        assert_int_equal(ldg_append_ex(l, &in, &again, &differs),
                         LDG_EDUPLICATE);
        assert_true(again == seq);
        assert_int_equal(differs, LDG_DIFF_BODY);
        assert_non_null(
            strstr(ldg_errmsg(l), "which differs from this one in body"));
        in.type = "x.b";
        in.has_time = 0;
        assert_int_equal(ldg_append_ex(l, &in, &again, &differs),
                         LDG_EDUPLICATE);
        assert_int_equal(differs,
                         LDG_DIFF_TYPE | LDG_DIFF_TIME | LDG_DIFF_BODY);
        assert_string_equal(ldg_dup_diff_names(differs, names, sizeof names),
                            "type, time, body");
        /* in a batch too, also against an event earlier in the batch */
        assert_int_equal(ldg_batch_begin(&b, l), 0);
        assert_int_equal(ldg_batch_add_seq(b, &in, &again, &differs),
                         LDG_EDUPLICATE);
        assert_true(again == seq);
        assert_int_equal(differs,
                         LDG_DIFF_TYPE | LDG_DIFF_TIME | LDG_DIFF_BODY);
        in.id = "k-4";
        assert_int_equal(ldg_batch_add_seq(b, &in, &s2, &differs), 0);
        in.body = keep;
        assert_int_equal(ldg_batch_add_seq(b, &in, &again, &differs),
                         LDG_EDUPLICATE);
        assert_true(again == s2);
        assert_int_equal(differs, LDG_DIFF_BODY);
        assert_int_equal(ldg_batch_commit(b, NULL, NULL), 0);
        ldg_batch_free(b);
        assert_int_equal(ldg_size(l, &size1), 0);
        assert_true(size1 == size0 + 1); /* k-4 only */
        json_decref(other);
        in.type = "x.a";
    }
    /* a bad id is refused */
    in.id = "a\nb";
    assert_int_equal(ldg_append(l, &in, NULL), LDG_EBADINPUT);
    json_decref(in.body);
    memset(&rep, 0, sizeof rep);
    assert_int_equal(ldg_verify(l, LDG_VERIFY_FULL, 0, &rep, NULL, NULL), 0);
    ldg_close(l);
    t_rmrf(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log__ids_are_idempotent),
        cmocka_unit_test(test_log__writer_names_duplicates_by_tag),
        cmocka_unit_test(test_log__writer_groups_ready_batches),
        cmocka_unit_test(test_log__writer_gathers_batches),
        cmocka_unit_test(test_log__init_writes_genesis_and_checkpoint),
        cmocka_unit_test(test_log__append_derives_subject_and_run),
        cmocka_unit_test(
            test_log__writer_free_commits_sealed_batches_drops_partial),
        cmocka_unit_test(test_log__writer_push_commits_partial_batches),
        cmocka_unit_test(test_log__bad_input_changes_nothing),
        cmocka_unit_test(test_log__key_roles_are_enforced_at_append),
        cmocka_unit_test(test_log__timestamps_never_go_backwards),
        cmocka_unit_test(test_log__writer_commits_in_groups_and_counts),
        cmocka_unit_test(test_log__writer_survives_interleaved_appends),
        cmocka_unit_test(test_log__keys_add_revoke_and_refuse),
        cmocka_unit_test(test_log__loose_key_file_permissions_are_refused),
        cmocka_unit_test(test_log__full_map_grows_or_fails_cleanly),
        cmocka_unit_test(test_log__read_only_handle_refuses_appends),
        cmocka_unit_test(test_log__fast_read_paths_match_the_strict_ones),
        cmocka_unit_test(test_log__default_dir_resolution),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
