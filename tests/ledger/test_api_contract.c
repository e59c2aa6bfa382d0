/*
 * test_api_contract.c — what ledger.h promises an embedder, where a
 * review found the library doing otherwise: a committed batch takes no
 * more events (it crashed); a write on the thread that holds an open
 * batch is refused, not left waiting forever, while another thread waits
 * for the batch and then writes; a writer needs a writable handle and is
 * one at a time; a key name that could not be loaded back is refused
 * when the key is made; a verifier key that does not fit is LDG_ETOOBIG;
 * a revocation needs a reason, and the log key's is LDG_EBADINPUT.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ledger/ledger.h"
#include "ledger/module.h"
#include "tests/support/support.h"

static struct ldg_event_in
event(const char *type)
{
    struct ldg_event_in in;
    memset(&in, 0, sizeof in);
    in.type = type;
    return in;
}

static void
test_api__committed_batch_takes_no_more(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_batch *b;
    struct ldg_event_in in = event("x.test.a");
    uint64_t first, n, size;
    (void)state;

    assert_int_equal(ldg_batch_begin(&b, l), 0);
    assert_int_equal(ldg_batch_add(b, &in), 0);
    assert_int_equal(ldg_batch_commit(b, &first, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ldg_batch_add(b, &in), LDG_EINVAL);
    assert_non_null(strstr(ldg_errmsg(l), "committed"));
    ldg_batch_free(b);
    assert_int_equal(ldg_size(l, &size), 0);
    assert_int_equal(size, 2);
    ldg_close(l);
    t_rmrf(dir);
}

struct other {
    struct ldg_ledger *l;
    int rc;
    uint64_t seq;
};

static void *
other_append(void *arg)
{
    struct other *o = arg;
    struct ldg_event_in in = event("x.test.other");
    o->rc = ldg_append(o->l, &in, &o->seq);
    return NULL;
}

static void
busy_at(unsigned layout)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new_layout(dir, sizeof dir, 0, 0, layout);
    struct ldg_batch *b, *b2;
    struct ldg_event_in in = event("x.test.a");
    struct other o = {l, -100, 0};
    pthread_t th;
    uint64_t seq, size;

    assert_int_equal(ldg_batch_begin(&b, l), 0);
    assert_int_equal(ldg_batch_add(b, &in), 0);
    /* this thread holds the batch's lock: refused at once */
    assert_int_equal(ldg_append(l, &in, &seq), LDG_EBUSY);
    assert_non_null(strstr(ldg_errmsg(l), "batch is open"));
    assert_int_equal(ldg_batch_begin(&b2, l), LDG_EBUSY);
    /* another thread waits for it, then writes after it */
    assert_int_equal(pthread_create(&th, NULL, other_append, &o), 0);
    assert_int_equal(ldg_batch_commit(b, NULL, NULL), 0);
    ldg_batch_free(b);
    pthread_join(th, NULL);
    assert_int_equal(o.rc, 0);
    assert_int_equal(o.seq, 2);
    /* the batch gone, this thread writes again */
    assert_int_equal(ldg_append(l, &in, &seq), 0);
    assert_int_equal(seq, 3);
    /* a batch freed without a commit frees the thread too */
    assert_int_equal(ldg_batch_begin(&b, l), 0);
    ldg_batch_free(b);
    assert_int_equal(ldg_append(l, &in, &seq), 0);
    assert_int_equal(ldg_size(l, &size), 0);
    assert_int_equal(size, 5);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_api__write_beside_own_batch_is_busy(void **state)
{
    (void)state;
    busy_at(0);   /* the default layout: LMDB's write lock */
    busy_at(9); /* the intake's lock */
}

/* A batch that failed holds its lock until it is freed: a commit of it
 * (refused) leaves the refusal in place (it cleared it, and the next
 * append on the thread hung). */
static void
failed_batch_at(unsigned layout)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new_layout(dir, sizeof dir, 0, 0, layout);
    struct ldg_batch *b;
    struct ldg_event_in in = event("x.test.a");
    uint64_t seq;

    assert_int_equal(ldg_batch_begin(&b, l), 0);
    assert_int_equal(ldg_batch_add(b, &in), 0);
    ldg_batch_fail(b, LDG_EIO);
    assert_true(ldg_batch_commit(b, NULL, NULL) < 0);
    assert_int_equal(ldg_append(l, &in, &seq), LDG_EBUSY);
    ldg_batch_free(b);
    assert_int_equal(ldg_append(l, &in, &seq), 0);
    assert_int_equal(seq, 1);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_api__a_failed_batch_keeps_its_thread_refused(void **state)
{
    (void)state;
    failed_batch_at(0);
    failed_batch_at(9);
}

struct second {
    struct ldg_ledger *l;
    pthread_barrier_t *bar;
    int busy_rc, commit_rc;
};

static void *
second_batch(void *arg)
{
    struct second *s = arg;
    struct ldg_batch *b2;
    struct ldg_event_in in = event("x.test.b");
    uint64_t seq;
    assert_int_equal(ldg_batch_begin(&b2, s->l), 0);
    pthread_barrier_wait(s->bar); /* b2 holds the lock */
    pthread_barrier_wait(s->bar); /* the first batch was freed */
    s->busy_rc = ldg_append(s->l, &in, &seq);
    assert_int_equal(ldg_batch_add(b2, &in), 0);
    s->commit_rc = ldg_batch_commit(b2, NULL, NULL);
    ldg_batch_free(b2);
    return NULL;
}

/* Freeing a committed batch does not take away another batch's refusal
 * (it cleared the handle's one mark, and the other batch's thread then
 * hung on its own lock), nor, at layout 9, its frame (it cleared the
 * handle's frame, and the other batch's commit failed). */
static void
freed_batch_at(unsigned layout)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new_layout(dir, sizeof dir, 0, 0, layout);
    struct ldg_batch *b1;
    struct ldg_event_in in = event("x.test.a");
    pthread_barrier_t bar;
    struct second s = {l, &bar, -100, -100};
    pthread_t th;
    uint64_t size;

    assert_int_equal(pthread_barrier_init(&bar, NULL, 2), 0);
    assert_int_equal(ldg_batch_begin(&b1, l), 0);
    assert_int_equal(ldg_batch_add(b1, &in), 0);
    assert_int_equal(ldg_batch_commit(b1, NULL, NULL), 0);
    assert_int_equal(pthread_create(&th, NULL, second_batch, &s), 0);
    pthread_barrier_wait(&bar);
    ldg_batch_free(b1);
    pthread_barrier_wait(&bar);
    pthread_join(th, NULL);
    pthread_barrier_destroy(&bar);
    assert_int_equal(s.busy_rc, LDG_EBUSY);
    assert_int_equal(s.commit_rc, 0);
    assert_int_equal(ldg_size(l, &size), 0);
    assert_int_equal(size, 3);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_api__freeing_a_committed_batch_leaves_another_one(void **state)
{
    (void)state;
    freed_batch_at(8);
    freed_batch_at(9);
}

static void
test_api__writer_needs_writable_handle_and_is_alone(void **state)
{
    char dir[256], err[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0), *ro;
    struct ldg_options o;
    struct ldg_writer *w, *w2;
    (void)state;

    memset(&o, 0, sizeof o);
    o.flags = LDG_RDONLY;
    assert_int_equal(ldg_open(&ro, dir, &o, err, sizeof err), 0);
    assert_int_equal(ldg_writer_new(&w, ro, NULL), LDG_EINVAL);
    assert_null(w);
    assert_non_null(strstr(ldg_errmsg(ro), "read-only"));
    ldg_close(ro);
    assert_int_equal(ldg_writer_new(&w, l, NULL), 0);
    assert_int_equal(ldg_writer_new(&w2, l, NULL), LDG_EINVAL);
    assert_non_null(strstr(ldg_errmsg(l), "writer runs"));
    ldg_writer_free(w);
    assert_int_equal(ldg_writer_new(&w, l, NULL), 0);
    ldg_writer_free(w);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_api__key_names_that_would_not_load_back(void **state)
{
    static const char *const bad[] = {"",      "has space", "../up", "-dash",
                                      ".dot",  "a/b",       "x\nseed"};
    struct ldg_key *k;
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(ldg_key_generate(&k, bad[i]), LDG_EINVAL);
        assert_null(k);
    }
    assert_int_equal(ldg_key_generate(&k, "alice.2-x_y"), 0);
    ldg_key_free(k);
}

static void
test_api__verifier_key_and_revoke_codes(void **state)
{
    char dir[256], small[10], vk[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    uint64_t seq;
    (void)state;

    assert_int_equal(ldg_verifier_key(l, small, sizeof small), LDG_ETOOBIG);
    assert_int_equal(ldg_verifier_key(l, vk, sizeof vk), 0);
    assert_non_null(strchr(vk, '+'));
    assert_int_equal(ldg_keys_add(l, "bob", NULL, &seq), 0);
    assert_int_equal(ldg_keys_revoke(l, "bob", NULL, &seq), LDG_EINVAL);
    assert_int_equal(ldg_keys_revoke(l, "log", "lost", &seq), LDG_EBADINPUT);
    assert_int_equal(ldg_keys_revoke(l, "carol", "lost", &seq), LDG_ENOTFOUND);
    assert_int_equal(ldg_keys_revoke(l, "bob", "left", &seq), 0);
    assert_int_equal(ldg_keys_add(l, "bad name", NULL, &seq), LDG_EINVAL);
    assert_int_equal(ldg_keys_add(l, "carol", "nosuchrole", &seq), LDG_EINVAL);
    ldg_close(l);
    t_rmrf(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api__committed_batch_takes_no_more),
        cmocka_unit_test(test_api__write_beside_own_batch_is_busy),
        cmocka_unit_test(test_api__a_failed_batch_keeps_its_thread_refused),
        cmocka_unit_test(test_api__freeing_a_committed_batch_leaves_another_one),
        cmocka_unit_test(test_api__writer_needs_writable_handle_and_is_alone),
        cmocka_unit_test(test_api__key_names_that_would_not_load_back),
        cmocka_unit_test(test_api__verifier_key_and_revoke_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
