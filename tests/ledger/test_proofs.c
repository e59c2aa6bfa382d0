/*
 * test_proofs.c — the offline checks (ldg_proof_check, ldg_checkpoint_open)
 * that bundles and auditors use: every proof of a real ledger verifies, and
 * a proof whose checkpoint was swapped for another, or whose text was
 * altered, does not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ledger/module.h"
#include "util/util.h"
#include "tests/support/support.h"

struct fx {
    char dir[256], dir2[256];
    struct ldg_ledger *l, *other;
    char vkey[512];
};

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    f->l = t_ledger_new(f->dir, sizeof f->dir, 0);
    f->other = t_ledger_new(f->dir2, sizeof f->dir2, 0);
    t_append_many(f->l, 40); /* one commit: checkpoint of size 41 */
    t_append_many(f->other, 40);
    for (int i = 0; i < 2; i++) { /* checkpoints of sizes 42 and 43 */
        t_append(f->l, "x.test.one", "{}", NULL);
        t_append(f->other, "x.test.one", "{}", NULL);
    }
    assert_int_equal(ldg_verifier_key(f->l, f->vkey, sizeof f->vkey), 0);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    ldg_close(f->l);
    ldg_close(f->other);
    t_rmrf(f->dir);
    t_rmrf(f->dir2);
    free(f);
    return 0;
}

static char *
proof(struct ldg_ledger *l, uint64_t seq, uint64_t size)
{
    struct ldg_txn *t;
    char *p;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_proof_text(t, seq, size, &p), 0);
    ldg_txn_abort(t);
    return p;
}

static size_t
entry(struct ldg_ledger *l, uint64_t seq, uint8_t *buf, size_t cap)
{
    struct ldg_txn *t;
    static uint8_t whole[LDG_ENTRY_MAX];
    const uint8_t *e;
    size_t n;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_event_entry(t, seq, whole, sizeof whole, &e, &n), 0);
    assert_true(n <= cap);
    memcpy(buf, e, n);
    ldg_txn_abort(t);
    return n;
}

static int
check(struct fx *f, const char *p, const uint8_t *e, size_t n)
{
    char err[256];
    return ldg_proof_check(f->vkey, p, strlen(p), e, n, NULL, NULL, NULL, err,
                           sizeof err);
}

/* The proof text with its checkpoint (after the first empty line)
 * replaced by note. */
static char *
with_checkpoint(const char *p, const char *note)
{
    const char *cut = strstr(p, "\n\n");
    size_t head = (size_t)(cut - p) + 2;
    char *out = malloc(head + strlen(note) + 1);
    memcpy(out, p, head);
    memcpy(out + head, note, strlen(note) + 1);
    return out;
}

static char *
checkpoint(struct ldg_ledger *l, uint64_t size)
{
    struct ldg_txn *t;
    char *note;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_checkpoint_get(t, size, &note), 0);
    ldg_txn_abort(t);
    return note;
}

static void
test_proofs__every_event_verifies_offline(void **state)
{
    struct fx *f = *state;
    uint8_t e[1024];
    for (uint64_t seq = 0; seq < 43; seq++) {
        char *p = proof(f->l, seq, 0);
        uint64_t idx, size;
        char err[256];
        size_t n = entry(f->l, seq, e, sizeof e);
        assert_int_equal(ldg_proof_check(f->vkey, p, strlen(p), e, n, &idx,
                                         &size, NULL, err, sizeof err),
                         0);
        assert_int_equal(idx, seq);
        assert_int_equal(size, 43);
        free(p);
    }
}

static void
test_proofs__swapped_checkpoint_is_refused(void **state)
{
    struct fx *f = *state;
    uint8_t e[1024];
    size_t n = entry(f->l, 5, e, sizeof e);
    char *p = proof(f->l, 5, 0), *q, *note, text[256], *forged;

    /* the same log's checkpoint of another size */
    note = checkpoint(f->l, 42);
    q = with_checkpoint(p, note);
    assert_int_equal(check(f, q, e, n), LDG_EBADPROOF);
    free(q);
    free(note);
    /* another log's checkpoint of the same size */
    note = checkpoint(f->other, 43);
    q = with_checkpoint(p, note);
    assert_int_not_equal(check(f, q, e, n), 0);
    free(q);
    free(note);
    /* a checkpoint of the right size, signed by the right key, with
     * another root */
    snprintf(text, sizeof text,
             "%s\n43\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
             ldg_origin(f->l));
    assert_int_equal(ldg_log_sign_note(f->l, text, strlen(text), &forged), 0);
    q = with_checkpoint(p, forged);
    assert_int_equal(check(f, q, e, n), LDG_EBADPROOF);
    free(q);
    free(forged);
    free(p);
}

static void
test_proofs__altered_proof_text_is_refused(void **state)
{
    struct fx *f = *state;
    uint8_t e[1024];
    size_t n = entry(f->l, 5, e, sizeof e);
    char *p = proof(f->l, 5, 0), *q;
    char *l3, *l4;

    /* index 5 -> 4 */
    q = strdup(p);
    *strstr(q, "index 5\n") = 'i';
    strstr(q, "index 5\n")[6] = '4';
    assert_int_not_equal(check(f, q, e, n), 0);
    free(q);
    /* the first two hash lines swapped */
    q = strdup(p);
    l3 = strchr(strchr(q, '\n') + 1, '\n') + 1;
    l4 = strchr(l3, '\n') + 1;
    {
        char tmp[45];
        memcpy(tmp, l3, 44);
        memcpy(l3, l4, 44);
        memcpy(l4, tmp, 44);
    }
    assert_int_equal(check(f, q, e, n), LDG_EBADPROOF);
    free(q);
    /* a hash line dropped */
    q = strdup(p);
    l3 = strchr(strchr(q, '\n') + 1, '\n') + 1;
    memmove(l3, l3 + 45, strlen(l3 + 45) + 1);
    assert_int_not_equal(check(f, q, e, n), 0);
    free(q);
    /* another entry */
    n = entry(f->l, 6, e, sizeof e);
    assert_int_equal(check(f, p, e, n), LDG_EBADPROOF);
    /* a foreign verifier key */
    {
        char vk2[512], err[256];
        n = entry(f->l, 5, e, sizeof e);
        assert_int_equal(ldg_verifier_key(f->other, vk2, sizeof vk2), 0);
        assert_int_not_equal(ldg_proof_check(vk2, p, strlen(p), e, n, NULL,
                                             NULL, NULL, err, sizeof err),
                             0);
    }
    free(p);
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_proofs__every_event_verifies_offline),
        T(test_proofs__swapped_checkpoint_is_refused),
        T(test_proofs__altered_proof_text_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
