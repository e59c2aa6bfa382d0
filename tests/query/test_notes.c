/*
 * test_notes.c — what a query's terms name that the ledger lacks
 * (query/notes.c): a run=ID no event carries gets a note, with the
 * nearest run id when it is close, and that run= takes no glob when it
 * looks like one; a run that is there and "run=" get none; on a pruned
 * ledger, a pruned run is not said twice.
 */
#include "tests/query/qtest.h"

#include "ledger/module.h"

/* The notes q's terms give on l, or NULL. */
static char *
notes(struct ldg_ledger *l, int n, const char *const *terms)
{
    struct ldg_query *q = NULL;
    struct ldg_txn *t = NULL;
    char err[512], *out = (char *)1;

    assert_int_equal(ldg_query_compile(&q, n, (char *const *)(uintptr_t)terms,
                                       NULL, NULL, err, sizeof err),
                     0);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_query_run_notes(q, t, &out), 0);
    ldg_txn_abort(t);
    ldg_query_free(q);
    return out;
}

static void
test_notes__a_run_no_event_carries_is_said(void **state)
{
    char dir[512], *s;
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    (void)state;

    q_append(l, "run.started", NULL, "R-0001", NULL,
             "{\"run\":\"R-0001\",\"pack\":\"p\"}");
    q_append(l, "run.started", NULL, "build-7", NULL,
             "{\"run\":\"build-7\",\"pack\":\"p\"}");
    /* there: no note */
    assert_null(notes(l, 1, TERMS("run=R-0001")));
    assert_null(notes(l, 2, TERMS("run=R-0001", "type=run.started")));
    assert_null(notes(l, 1, TERMS("run=")));
    /* a typo: the nearest run */
    s = notes(l, 1, TERMS("run=R-001"));
    assert_non_null(s);
    assert_string_equal(s, "no run named 'R-001' in this ledger (did you "
                           "mean R-0001?)");
    free(s);
    /* nothing near: no suggestion; two edits of a two-letter id are not
     * near ("r9" is not "R-0001") */
    s = notes(l, 1, TERMS("run=r9"));
    assert_string_equal(s, "no run named 'r9' in this ledger");
    free(s);
    /* run!= excludes nothing: as silent a typo; each run once, in order */
    s = notes(l, 4, TERMS("run!=build-8", "+", "run=R-0001", "run=nightly"));
    assert_string_equal(s, "no run named 'build-8' in this ledger (did you "
                           "mean build-7?)\nno run named 'nightly' in this "
                           "ledger");
    free(s);
    /* a glob, as type= and pack= take: run= does not, and says so */
    s = notes(l, 1, TERMS("run=R-00*"));
    assert_string_equal(s, "no run named 'R-00*' in this ledger (did you "
                           "mean R-0001?) (run= compares exactly: it takes "
                           "no glob)");
    free(s);
    s = notes(l, 3, TERMS("run=zz", "+", "run=zz"));
    assert_string_equal(s, "no run named 'zz' in this ledger");
    free(s);
    ldg_close(l);
    t_rmrf(dir);
}

/* A pruned ledger: a run whose events were all pruned is not among the
 * kept events, and the query's own word on the horizon (where the pruned
 * events went) says so; the note repeats it only where it adds something
 * (a near name, the glob hint), and whole when the selection does not
 * reach before the horizon. */
static void
test_notes__a_pruned_run_is_said_once(void **state)
{
    char dir[512], *s;
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_txn *t;
    struct ldg_prune_stats ps;
    uint8_t zero[32] = {0};
    (void)state;

    for (int i = 0; i < 3; i++) /* seqs 1..3 */
        q_append(l, "run.started", NULL, "R-old", NULL,
                 "{\"run\":\"R-old\",\"pack\":\"p\"}");
    for (int i = 0; i < 3; i++) /* seqs 4..6 */
        q_append(l, "run.started", NULL, "R-new", NULL,
                 "{\"run\":\"R-new\",\"pack\":\"p\"}");
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_prune_txn(t, 4, zero, zero, 1, &ps), 0);
    assert_int_equal(ldg_txn_commit(t), 0);

    /* pruned, reached: the horizon's word is the whole answer */
    assert_null(notes(l, 1, TERMS("run=R-old")));
    assert_null(notes(l, 3, TERMS("run=R-old", "+", "type=run.started")));
    /* a typo of a kept run: the near name, without the horizon again */
    s = notes(l, 1, TERMS("run=R-nex"));
    assert_string_equal(s, "no run named 'R-nex' among the kept events (did "
                           "you mean R-new?)");
    free(s);
    s = notes(l, 1, TERMS("run=R-*"));
    assert_non_null(s);
    assert_non_null(strstr(s, "it takes no glob"));
    free(s);
    /* a selection within the kept events: nothing else says it */
    s = notes(l, 2, TERMS("run=R-old", "seq=5..6"));
    assert_string_equal(s, "no run named 'R-old' among the kept events "
                           "(events before 4 were pruned)");
    free(s);
    assert_null(notes(l, 1, TERMS("run=R-new")));
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_notes__misuse(void **state)
{
    char *out = (char *)1;
    (void)state;
    assert_int_equal(ldg_query_run_notes(NULL, NULL, &out), LDG_EINVAL);
    assert_null(out);
    assert_int_equal(ldg_query_run_notes(NULL, NULL, NULL), LDG_EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_notes__a_run_no_event_carries_is_said),
        cmocka_unit_test(test_notes__a_pruned_run_is_said_once),
        cmocka_unit_test(test_notes__misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
