/*
 * test_verify_bodies.c — ledger/verify_bodies.c: bodies against their
 * commitments: a flipped bit, an erased body (it still verifies) and one
 * put back, an erasure late in the log, a body deleted without an
 * erasure, bodies swapped or deleted behind a plain verification.
 */
#include "tests/ledger/verify_fx.h"

static void
test_verify__detects_flipped_bit_in_body(void **state)
{
    struct fx *f = *state;
    uint8_t buf[4096];
    size_t n = t_raw_get(f->l, "bodies", 12, buf, sizeof buf);
    buf[n - 1] ^= 0x01; /* last byte of the last value */
    t_raw_put(f->l, "bodies", 12, buf, n);
    expect_bad(f, LDG_VERIFY_FULL, 12, "body");
}

static void
test_verify__erased_body_still_verifies(void **state)
{
    struct fx *f = *state;
    struct ldg_verify_report r;
    struct ldg_txn *t;
    json_t *b = NULL;
    char body[64];
    snprintf(body, sizeof body, "{\"target_seq\":7,\"reason\":\"gdpr\"}");
    t_append(f->l, "body.erased", body, NULL);
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL, 0, &r, NULL, NULL), 0);
    assert_int_equal(r.erased, 1);
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_body_get(t, 7, &b), LDG_EERASED);
    ldg_txn_abort(t);
    /* erasing again, or erasing a key event, is refused */
    {
        struct ldg_event_in in;
        json_t *jb = json_pack("{s:i, s:s}", "target_seq", 7, "reason", "x");
        memset(&in, 0, sizeof in);
        in.type = "body.erased";
        in.body = jb;
        assert_int_equal(ldg_append(f->l, &in, NULL), LDG_EBADINPUT);
        json_decref(jb);
        jb = json_pack("{s:i, s:s}", "target_seq", 1, "reason", "x");
        in.body = jb;
        assert_int_equal(ldg_append(f->l, &in, NULL), LDG_EBADINPUT);
        json_decref(jb);
    }
}

/* An erased body put back is found, at the erased event. */
static void
test_verify__detects_erased_body_put_back(void **state)
{
    struct fx *f = *state;
    uint8_t buf[4096];
    size_t n = t_raw_get(f->l, "bodies", 7, buf, sizeof buf);
    t_append(f->l, "body.erased", "{\"target_seq\":7,\"reason\":\"gdpr\"}",
             NULL);
    t_raw_put(f->l, "bodies", 7, buf, n);
    expect_bad(f, LDG_VERIFY_FULL, 7, "still stored");
}

/* Pass 2 runs behind pass 1 and leaves the body checks that depend on
 * later body.erased events to the end: an erasure thousands of events
 * (many pass-2 chunks) after its target still accounts for the missing
 * body, a missing body without one is found before a later bad body,
 * and an erasure after the event where pass 1 stops still keeps its
 * target from being blamed ahead of that event. */
static void
test_verify__late_erasure_and_first_finding_across_chunks(void **state)
{
    struct fx *f = *state;
    struct ldg_verify_report r;
    uint8_t buf[LDG_ENTRY_MAX];
    size_t n;

    t_append_many(f->l, 5000);
    t_append(f->l, "body.erased", "{\"target_seq\":12,\"reason\":\"late\"}",
             NULL);
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0,
                                &r, NULL, NULL),
                     0);
    assert_int_equal(r.erased, 1);
    /* a body deleted with no erasure at 30 is reported, 12 is not */
    t_raw_del(f->l, "bodies", 30);
    expect_bad(f, LDG_VERIFY_FULL, 30, "missing");
    /* and a bad signature in pass 2's range, later than 30, loses to it */
    n = t_raw_get(f->l, "bodies", 4000, buf, sizeof buf);
    buf[n - 1] ^= 1;
    t_raw_put(f->l, "bodies", 4000, buf, n);
    expect_bad(f, LDG_VERIFY_FULL, 30, "missing");
    /* An event altered at 25 (its body commitment) stops pass 1 there,
     * before the erasure of 12: event 25 is the first finding, not 12's
     * erased body. */
    n = t_raw_get(f->l, "entries", 25, buf, sizeof buf);
    buf[40] ^= 1;
    t_raw_put(f->l, "entries", 25, buf, n);
    expect_bad(f, LDG_VERIFY_FULL, 25,
               ldg_format(f->l) == 2 ? "claim digest" : "signature");
}

static void
test_verify__detects_deleted_body_without_erasure(void **state)
{
    struct fx *f = *state;
    t_raw_del(f->l, "bodies", 21);
    expect_bad(f, LDG_VERIFY_FULL, 21, "missing");
}

/* Bodies swapped between two verified events, or one deleted without a
 * body.erased: the entries, chain and tree do not change, so only a body
 * check sees it, and plain verify (and so --trusted) makes one from 0. */
static void
test_verify__plain_verify_sees_bodies_swapped_or_deleted_after_it(void **state)
{
    struct fx *f = *state;
    struct ldg_verify_report r;
    uint8_t a[4096], b[4096];
    size_t na, nb;

    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL, 0, &r, NULL, NULL), 0);
    na = t_raw_get(f->l, "bodies", 10, a, sizeof a);
    nb = t_raw_get(f->l, "bodies", 11, b, sizeof b);
    t_raw_put(f->l, "bodies", 10, b, nb);
    t_raw_put(f->l, "bodies", 11, a, na);
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_NOSAVE, 0, &r, NULL, NULL),
                     LDG_ETAMPER);
    assert_int_equal(r.from, 40); /* signatures: nothing new */
    assert_int_equal(r.bad_seq, 10);
    assert_non_null(strstr(r.what, "commitment"));
    t_raw_put(f->l, "bodies", 10, a, na);
    t_raw_put(f->l, "bodies", 11, b, nb);
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_NOSAVE, 0, &r, NULL, NULL), 0);
    t_raw_del(f->l, "bodies", 20);
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_NOSAVE, 0, &r, NULL, NULL),
                     LDG_ETAMPER);
    assert_int_equal(r.bad_seq, 20);
    assert_non_null(strstr(r.what, "no body.erased"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_verify__detects_flipped_bit_in_body),
        T(test_verify__erased_body_still_verifies),
        T(test_verify__detects_erased_body_put_back),
        T(test_verify__late_erasure_and_first_finding_across_chunks),
        T(test_verify__detects_deleted_body_without_erasure),
        T(test_verify__plain_verify_sees_bodies_swapped_or_deleted_after_it),
        T1(test_verify__detects_flipped_bit_in_body),
        T1(test_verify__late_erasure_and_first_finding_across_chunks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
