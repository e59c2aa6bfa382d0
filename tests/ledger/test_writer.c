/*
 * test_writer.c — ledger/writer.c, the group-commit writer: batches
 * committed in groups and counted, ready batches grouped, batches gathered,
 * duplicates named by their tag, sealed batches committed at free and a
 * partial one dropped, a push committing partial batches, writers
 * interleaved with appends, and waiting events that keep their strings
 * and bodies whole.
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

#include "ledger/log_int.h"
#include "tests/support/support.h"

static void
test_writer__writer_commits_in_groups_and_counts(void **state)
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
test_writer__writer_groups_ready_batches(void **state)
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
test_writer__writer_gathers_batches(void **state)
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
test_writer__writer_names_duplicates_by_tag(void **state)
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
test_writer__writer_free_commits_sealed_batches_drops_partial(void **state)
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
test_writer__writer_push_commits_partial_batches(void **state)
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
test_writer__writer_survives_interleaved_appends(void **state)
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

/* A waiting event keeps its subject, run and id at their own lengths
 * (struct ldg_prep's text) and a compressed body beside its uncompressed
 * form in one allocation: each at its largest size and at none comes back
 * whole, one byte over the largest is refused with nothing queued. */
static void
test_writer__waiting_events_keep_strings_and_bodies_whole(void **state)
{
    char dir[256], subject[LDG_SUBJECT_MAX + 2], run[LDG_RUN_MAX + 2];
    char id[LDG_ID_MAX + 2], text[700];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_writer_options wo;
    struct ldg_writer *w;
    struct ldg_verify_report r;
    struct ldg_txn *t;
    struct ldg_event ev;
    struct ldg_val v;
    json_t *body, *got;
    (void)state;

    memset(subject, 's', sizeof subject - 1);
    memcpy(subject, "kind:", 5);
    memset(run, 'r', sizeof run - 1);
    memset(id, 'i', sizeof id - 1);
    /* (ended, so that one byte over the largest is a string too) */
    subject[sizeof subject - 1] = run[sizeof run - 1] = id[sizeof id - 1] =
        '\0';
    for (size_t i = 0; i < sizeof text - 1; i++) /* compresses (> 512) */
        text[i] = (char)('a' + i % 7);
    text[sizeof text - 1] = '\0';
    body = json_pack("{s:s, s:i}", "text", text, "n", 1);
    memset(&wo, 0, sizeof wo);
    wo.batch = 3;
    wo.threads = 2;
    assert_int_equal(ldg_writer_new(&w, l, &wo), 0);
    for (int i = 0; i < 7; i++) {
        struct ldg_event_in in;
        char idi[LDG_ID_MAX + 2];
        memset(&in, 0, sizeof in);
        in.type = "x.test.long";
        in.body = body;
        if (i % 2 == 0) { /* odd ones: none, the subject derived */
            subject[LDG_SUBJECT_MAX] = '\0';
            run[LDG_RUN_MAX] = '\0';
            memcpy(idi, id, sizeof idi);
            idi[LDG_ID_MAX] = '\0';
            idi[0] = (char)('0' + i);
            in.subject = subject;
            in.run = run;
            in.id = idi;
        }
        assert_int_equal(ldg_writer_add(w, &in), 0);
    }
    {
        struct ldg_event_in in;
        memset(&in, 0, sizeof in);
        in.type = "x.test.long";
        in.body = body;
        subject[LDG_SUBJECT_MAX] = 's';
        in.subject = subject;
        assert_int_equal(ldg_writer_add(w, &in), LDG_ETOOBIG);
        subject[LDG_SUBJECT_MAX] = '\0';
        run[LDG_RUN_MAX] = 'r';
        in.run = run;
        assert_int_equal(ldg_writer_add(w, &in), LDG_ETOOBIG);
        run[LDG_RUN_MAX] = '\0';
        id[LDG_ID_MAX] = 'i';
        in.id = id;
        assert_int_equal(ldg_writer_add(w, &in), LDG_EBADINPUT);
    }
    assert_int_equal(ldg_writer_flush(w), 0);
    assert_int_equal(ldg_writer_committed(w), 7);
    ldg_writer_free(w);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    for (uint64_t seq = 1; seq <= 7; seq++) {
        int full = (seq - 1) % 2 == 0;
        assert_int_equal(ldg_event_get(t, seq, &ev), 0);
        assert_string_equal(ev.type, "x.test.long");
        if (full) {
            assert_string_equal(ev.subject, subject);
            assert_string_equal(ev.run, run);
            assert_int_equal(ev.id_len, LDG_ID_MAX);
            assert_int_equal(ev.id[0], '0' + (int)(seq - 1));
            assert_memory_equal(ev.id + 1, id + 1, LDG_ID_MAX - 1);
        } else {
            char derived[LDG_SUBJECT_MAX + 1];
            assert_int_equal(
                ldg_vocab_subject(ev.type, body, derived, sizeof derived), 0);
            assert_string_equal(ev.subject, derived);
            assert_string_equal(ev.run, "");
            assert_int_equal(ev.id_len, 0);
        }
        /* stored compressed: the record read back came from rec, which
         * lies in raw's allocation after it */
        assert_int_equal(ldg_body_raw(t, seq, &v), 0);
        assert_int_equal(((const uint8_t *)v.data)[0], LDG_BODY_SEEDED_AES_Z);
        assert_true(v.len < sizeof text);
        assert_int_equal(ldg_body_get(t, seq, &got), 0);
        assert_true(json_equal(got, body));
        json_decref(got);
    }
    assert_int_equal(ldg_event_get(t, 8, &ev), LDG_ENOTFOUND);
    ldg_txn_abort(t);
    assert_int_equal(ldg_verify(l, LDG_VERIFY_FULL, 0, &r, NULL, NULL), 0);
    json_decref(body);
    ldg_close(l);
    t_rmrf(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writer__writer_commits_in_groups_and_counts),
        cmocka_unit_test(test_writer__writer_groups_ready_batches),
        cmocka_unit_test(test_writer__writer_gathers_batches),
        cmocka_unit_test(test_writer__writer_names_duplicates_by_tag),
        cmocka_unit_test(
            test_writer__writer_free_commits_sealed_batches_drops_partial),
        cmocka_unit_test(test_writer__writer_push_commits_partial_batches),
        cmocka_unit_test(test_writer__writer_survives_interleaved_appends),
        cmocka_unit_test(
            test_writer__waiting_events_keep_strings_and_bodies_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
