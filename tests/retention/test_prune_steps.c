/*
 * test_prune_steps.c — a prune larger than one transaction holds, and a
 * prune run again (retention/retention.c, docs/RETENTION.md):
 *
 *   - with LMDB refusing changes past a small number in a write
 *     transaction (MDB_TXN_FULL, as its limit of dirty pages does for a
 *     large prune), a prune is made in steps of a commit each, and gives
 *     the ledger a one-step prune gives: the horizon record's first and
 *     archive, one ledger.pruned naming the whole archive, verify passes;
 *   - a commit of the log too large to remove in one transaction is
 *     refused as LDG_ETXNFULL ("too large ... not a full disk"), naming
 *     it, with the steps before it made;
 *   - stopped after a step (every later write transaction fails, as after
 *     a crash), the ledger verifies, pruned at that step's end with the
 *     record naming the archive from event 0; the prune run again goes on
 *     with the same archive to the horizon (continued); so does the next
 *     `prune --policy` after one stopped so, with the archive it wrote;
 *   - runs that start in one commit and end two commits on: a prune in
 *     steps folds each step's events into the state kept at the last
 *     step's end, and keeps at the horizon the state one fold of the
 *     whole range gives (the horizon record's state is the archive's
 *     note's, signed before the prune); the projections then fold from
 *     it to what the store holds;
 *   - run again after it was done, the archive the horizon record pins is
 *     "pruned already" (0, already), another file is refused (LDG_ETAMPER,
 *     naming the pinned SHA-256); after a second prune, the first one's
 *     archive is found by its kept ledger.pruned event.
 *
 * LMDB is a shared library for the unit tests: the definitions of mdb_put,
 * mdb_del, mdb_cursor_put, mdb_cursor_del, mdb_txn_begin and
 * mdb_txn_commit below are the ones libledger reaches, and call LMDB's.
 */
#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <lmdb.h>

#include "projections/projections.h"
#include "retention/retention.h"
#include "tests/support/support.h"

/* ----------------------------------------------------- LMDB, limited -- */

static long changes_max; /* 0: no limit */
static long commits_max; /* write commits allowed; 0: no limit */
static long changes, commits, refused;
static MDB_txn *wtxn;

#define REAL(name, type)                                                       \
    static type real_fn; /* (looked up once, by whichever thread is first) */ \
    type real = __atomic_load_n(&real_fn, __ATOMIC_ACQUIRE);                   \
    if (real == NULL) {                                                        \
        real = (type)dlsym(RTLD_NEXT, name);                                   \
        __atomic_store_n(&real_fn, real, __ATOMIC_RELEASE);                    \
    }

static int
full(MDB_txn *txn)
{
    if (changes_max <= 0 || txn != wtxn || ++changes <= changes_max)
        return 0;
    refused++;
    return 1;
}

int
mdb_txn_begin(MDB_env *env, MDB_txn *parent, unsigned int flags, MDB_txn **txn)
{
    typedef int (*fn)(MDB_env *, MDB_txn *, unsigned int, MDB_txn **);
    REAL("mdb_txn_begin", fn);
    int write = !(flags & MDB_RDONLY) && parent == NULL;
    if (write && commits_max > 0 && commits >= commits_max)
        return EIO; /* "the process died": nothing more is written */
    int rc = real(env, parent, flags, txn);
    if (rc == 0 && write) {
        wtxn = *txn;
        changes = 0;
    }
    return rc;
}

int
mdb_txn_commit(MDB_txn *txn)
{
    typedef int (*fn)(MDB_txn *);
    REAL("mdb_txn_commit", fn);
    int write = txn == wtxn;
    int rc = real(txn);
    if (write) {
        wtxn = NULL;
        if (rc == 0)
            commits++;
    }
    return rc;
}

void
mdb_txn_abort(MDB_txn *txn)
{
    typedef void (*fn)(MDB_txn *);
    REAL("mdb_txn_abort", fn);
    if (txn == wtxn)
        wtxn = NULL;
    real(txn);
}

int
mdb_put(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *data,
        unsigned int flags)
{
    typedef int (*fn)(MDB_txn *, MDB_dbi, MDB_val *, MDB_val *, unsigned int);
    REAL("mdb_put", fn);
    return full(txn) ? MDB_TXN_FULL : real(txn, dbi, key, data, flags);
}

int
mdb_del(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *data)
{
    typedef int (*fn)(MDB_txn *, MDB_dbi, MDB_val *, MDB_val *);
    REAL("mdb_del", fn);
    return full(txn) ? MDB_TXN_FULL : real(txn, dbi, key, data);
}

int
mdb_cursor_put(MDB_cursor *c, MDB_val *key, MDB_val *data, unsigned int flags)
{
    typedef int (*fn)(MDB_cursor *, MDB_val *, MDB_val *, unsigned int);
    REAL("mdb_cursor_put", fn);
    return full(mdb_cursor_txn(c)) ? MDB_TXN_FULL : real(c, key, data, flags);
}

int
mdb_cursor_del(MDB_cursor *c, unsigned int flags)
{
    typedef int (*fn)(MDB_cursor *, unsigned int);
    REAL("mdb_cursor_del", fn);
    return full(mdb_cursor_txn(c)) ? MDB_TXN_FULL : real(c, flags);
}

static void
unlimited(void)
{
    changes_max = commits_max = 0;
    commits = refused = 0;
}

/* ------------------------------------------------------------ fixture -- */

#define COMMITS 60 /* of EACH events each, after the genesis */
#define EACH 10
#define HZ 401 /* a commit's end: the genesis and 40 commits */

struct fx {
    char dir[256], archive[300];
    struct ldg_ledger *l;
    uint64_t size; /* before the prune */
};

static int
setup_at(void **state, unsigned layout)
{
    struct fx *f = calloc(1, sizeof *f);
    struct ldg_archive_opts ao;
    struct ldg_archive_report ar;
    int rc;

    assert_non_null(f);
    unlimited();
    f->l = t_ledger_new_layout(f->dir, sizeof f->dir, 0, 0, layout);
    for (int i = 0; i < COMMITS; i++)
        t_append_many(f->l, EACH);
    f->size = 1 + COMMITS * EACH;
    snprintf(f->archive, sizeof f->archive, "%s/a1.bundle", f->dir);
    memset(&ao, 0, sizeof ao);
    ao.before = "401";
    ao.out = f->archive;
    if ((rc = ldg_retention_archive(f->l, &ao, &ar)) != 0)
        fail_msg("archive: %s (%s)", ldg_strerror(rc), ldg_errmsg(f->l));
    assert_int_equal(ar.h.horizon, HZ);
    *state = f;
    return 0;
}

/* The intake log's tail applied to data.mdb, as a long-lived writer's
 * clean close leaves it: a new handle. */
static void
settle(struct fx *f)
{
    struct ldg_options o;
    char err[512];
    ldg_close(f->l);
    memset(&o, 0, sizeof o);
    o.flags = LDG_NOSYNC;
    if (ldg_open(&f->l, f->dir, &o, err, sizeof err) != 0)
        fail_msg("open: %s", err);
}

/* (the steps are LMDB's: every event in data.mdb, the intake's tail
 * applied; setup9's ledger holds a tail of events in its intake log) */
static int
setup(void **state)
{
    int rc = setup_at(state, 9);
    settle(*state);
    return rc;
}

static int
setup9(void **state)
{
    return setup_at(state, 9);
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    unlimited();
    ldg_close(f->l);
    t_rmrf(f->dir);
    free(f);
    return 0;
}

static int
prune(struct fx *f, const char *before, const char *archive,
      struct ldg_prune_report *r)
{
    struct ldg_prune_opts po;
    memset(&po, 0, sizeof po);
    po.before = before;
    po.archive = archive;
    return ldg_retention_prune(f->l, &po, r);
}

static void
verifies(struct fx *f)
{
    struct ldg_verify_report vr;
    int rc = ldg_verify(f->l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0, &vr, NULL,
                        NULL);
    if (rc != 0)
        fail_msg("verify: %s (%s)", ldg_strerror(rc), ldg_errmsg(f->l));
}

/* The ledger.pruned event at seq: its body's first and horizon. */
static void
pruned_event(struct fx *f, uint64_t seq, json_int_t first, json_int_t hz)
{
    struct ldg_txn *t;
    struct ldg_event ev;
    json_t *b = NULL;
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_event_get(t, seq, &ev), 0);
    assert_string_equal(ev.type, "ledger.pruned");
    assert_int_equal(ldg_body_get(t, seq, &b), 0);
    ldg_txn_abort(t);
    assert_int_equal(json_integer_value(json_object_get(b, "first")), first);
    assert_int_equal(json_integer_value(json_object_get(b, "horizon")), hz);
    assert_int_equal(json_integer_value(json_object_get(b, "events")),
                     hz - first);
    json_decref(b);
}

/* ------------------------------------------------------------- steps -- */

static void
test_retention__prune_too_large_for_one_transaction_is_made_in_steps(
    void **state)
{
    struct fx *f = *state;
    struct ldg_prune_report r;
    struct ldg_horizon h;
    int rc;

    changes_max = 1500; /* about 100 events' records */
    rc = prune(f, "401", f->archive, &r);
    if (rc != 0)
        fail_msg("prune: %s (%s)", ldg_strerror(rc), ldg_errmsg(f->l));
    assert_true(refused > 0); /* (the limit was met) */
    unlimited();
    assert_true(r.steps > 1);
    assert_int_equal(r.events, HZ);
    assert_int_equal(r.h.horizon, HZ);
    assert_false(r.continued);
    assert_int_equal(r.pruned_seq, f->size); /* one ledger.pruned */
    pruned_event(f, r.pruned_seq, 0, HZ);
    assert_int_equal(ldg_horizon(f->l, &h), 0);
    assert_int_equal(h.seq, HZ);
    assert_int_equal(h.first, 0);
    assert_memory_equal(h.archive, r.archive_sha256, 32);
    ldg_horizon_release(&h);
    verifies(f);
}

/* At layout 9 a prune applies the intake log's tail first: when that
 * is too large for one transaction, the refusal says so, not a commit
 * of its own (it named "event 18446744073709551615"). */
static void
test_retention__a_tail_too_large_for_one_transaction_is_named(void **state)
{
    struct fx *f = *state;
    struct ldg_prune_report r;
    struct ldg_stats st;

    assert_int_equal(ldg_stats(f->l, &st), 0);
    assert_true(st.intake_events > 0);
    changes_max = 40;
    assert_int_equal(prune(f, "401", f->archive, &r), LDG_ETXNFULL);
    unlimited();
    if (strstr(ldg_errmsg(f->l), "applying the intake log's unapplied "
                                 "events to the store before the prune is "
                                 "too large for one transaction") == NULL ||
        strstr(ldg_errmsg(f->l), "not a full disk): nothing pruned") == NULL)
        fail_msg("the refusal: %s", ldg_errmsg(f->l));
    assert_int_equal(r.events, 0);
    verifies(f);
    /* and with room, the prune is made */
    assert_int_equal(prune(f, "401", f->archive, &r), 0);
    assert_int_equal(r.events, HZ);
    verifies(f);
}

static void
test_retention__a_commit_too_large_for_one_transaction_is_named(void **state)
{
    struct fx *f = *state;
    struct ldg_prune_report r;
    uint64_t size = 0;
    struct ldg_txn *t;

    changes_max = 40; /* less than one commit's records */
    assert_int_equal(prune(f, "401", f->archive, &r), LDG_ETXNFULL);
    unlimited();
    assert_non_null(strstr(ldg_errmsg(f->l), "too large to remove in one "
                                             "transaction"));
    assert_non_null(strstr(ldg_errmsg(f->l), "not a full disk"));
    /* (the genesis, a commit of one event, is pruned: the next is not) */
    assert_non_null(strstr(ldg_errmsg(f->l), "the commit that ends at event "
                                             "10 "));
    assert_non_null(strstr(ldg_errmsg(f->l), "events 0..0 are pruned, the "
                                             "rest is not"));
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_txn_size(t, &size), 0);
    assert_int_equal(ldg_txn_horizon(t), 1);
    ldg_txn_abort(t);
    assert_int_equal(size, f->size);
    verifies(f);
}

static void
test_retention__a_prune_stopped_between_steps_goes_on(void **state)
{
    struct fx *f = *state;
    struct ldg_prune_report r;
    struct ldg_horizon h;
    uint64_t mid;
    int rc;

    changes_max = 600; /* steps of 32 events */
    commits = 0;
    commits_max = 2; /* two steps commit, then "the process dies" */
    rc = prune(f, "401", f->archive, &r);
    if (rc == 0)
        fail_msg("the prune went through in %d steps", r.steps);
    unlimited();
    /* as a new process finds it */
    ldg_close(f->l);
    assert_int_equal(ldg_open(&f->l, f->dir, NULL, NULL, 0), 0);
    verifies(f);
    assert_int_equal(ldg_horizon(f->l, &h), 0);
    mid = h.seq;
    assert_true(mid > 0 && mid < HZ);
    assert_int_equal(h.first, 0); /* the archive's first event */
    assert_memory_equal(h.archive, r.archive_sha256, 32);
    ldg_horizon_release(&h);
    /* run again: on from the step's end, with the same archive */
    rc = prune(f, "401", f->archive, &r);
    if (rc != 0)
        fail_msg("prune again: %s (%s)", ldg_strerror(rc), ldg_errmsg(f->l));
    assert_true(r.continued);
    assert_int_equal(r.h.first, mid);
    assert_int_equal(r.events, HZ - mid);
    pruned_event(f, r.pruned_seq, 0, HZ);
    assert_int_equal(ldg_horizon(f->l, &h), 0);
    assert_int_equal(h.seq, HZ);
    assert_int_equal(h.first, 0);
    ldg_horizon_release(&h);
    verifies(f);
}

static void
test_retention__a_policy_prune_stopped_between_steps_goes_on(void **state)
{
    struct fx *f = *state;
    struct ldg_retention_policy p;
    struct ldg_policy_report r;
    struct ldg_horizon h;
    char err[256], path[4200];
    uint64_t now;
    FILE *fp;
    int rc;

    assert_int_equal(ldg_retention_policy_load(f->dir, &p, err, sizeof err), 0);
    /* (the events are all older than keep_days then: one archive) */
    now = ldg_now_wall_ns() + 400ull * 86400 * 1000000000ull;
    changes_max = 600;
    commits = 0;
    commits_max = 2;
    rc = ldg_retention_apply(f->l, &p, 0, now, &r);
    assert_int_not_equal(rc, 0);
    unlimited();
    assert_int_equal(ldg_horizon(f->l, &h), 0);
    assert_true(h.seq < HZ);
    ldg_horizon_release(&h);
    /* the next run goes on with the archive it wrote, not another */
    rc = ldg_retention_apply(f->l, &p, 0, now, &r);
    if (rc != 0)
        fail_msg("prune --policy again: %s (%s)", ldg_strerror(rc),
                 ldg_errmsg(f->l));
    assert_int_equal(r.archived, 0);
    assert_true(r.pr.continued);
    snprintf(path, sizeof path, "%s/ledger-0-600.segment", p.archive_dir);
    assert_string_equal(r.archive, path);
    assert_non_null(fp = fopen(path, "r"));
    fclose(fp);
    assert_int_equal(ldg_horizon(f->l, &h), 0);
    assert_int_equal(h.first, 0);
    assert_int_equal(h.seq, f->size);
    ldg_horizon_release(&h);
    pruned_event(f, r.pr.pruned_seq, 0, (json_int_t)f->size);
    verifies(f);
}

/* --------------------------------------------------------- run again -- */

static void
test_retention__run_again_takes_only_the_pinned_archive(void **state)
{
    struct fx *f = *state;
    struct ldg_prune_report r;
    struct ldg_archive_opts ao;
    struct ldg_archive_report ar;
    char other[320], a2[320];
    FILE *fp;

    assert_int_equal(prune(f, "401", f->archive, &r), 0);
    /* the same archive: pruned already, said */
    assert_int_equal(prune(f, "401", f->archive, &r), 0);
    assert_true(r.already);
    assert_int_equal(r.events, 0);
    assert_non_null(strstr(r.why, "pruned already, into this archive"));
    assert_non_null(strstr(r.why, "horizon record"));
    /* any other file: refused, naming the archive that is */
    snprintf(other, sizeof other, "%s/other.bundle", f->dir);
    assert_non_null(fp = fopen(other, "w"));
    fputs("not the archive\n", fp);
    fclose(fp);
    assert_int_equal(prune(f, "401", other, &r), LDG_ETAMPER);
    assert_false(r.already);
    assert_non_null(strstr(ldg_errmsg(f->l), "is not the archive of"));
    {
        char hex[65];
        struct ldg_horizon h;
        assert_int_equal(ldg_horizon(f->l, &h), 0);
        ldg_hex(hex, h.archive, 32);
        ldg_horizon_release(&h);
        assert_non_null(strstr(ldg_errmsg(f->l), hex));
    }
    /* a second prune; then the first one's archive is found by its
     * ledger.pruned event, and the second's is not the first's */
    snprintf(a2, sizeof a2, "%s/a2.bundle", f->dir);
    memset(&ao, 0, sizeof ao);
    ao.before = "501";
    ao.out = a2;
    assert_int_equal(ldg_retention_archive(f->l, &ao, &ar), 0);
    assert_int_equal(prune(f, "501", a2, &r), 0);
    assert_int_equal(prune(f, "401", f->archive, &r), 0);
    assert_true(r.already);
    assert_non_null(strstr(r.why, "ledger.pruned seq"));
    if (prune(f, "401", a2, &r) != LDG_ETAMPER)
        fail_msg("a2 for 401: %s", r.why);
    assert_non_null(strstr(ldg_errmsg(f->l), "a1.bundle"));
    assert_int_equal(prune(f, "501", a2, &r), 0);
    assert_true(r.already);
    assert_int_equal(prune(f, "501", f->archive, &r), LDG_ETAMPER);
    verifies(f);
}

/* ------------------------------------------------- state across steps -- */

/* Each commit starts run r<i>, adds a step to r<i-1> and finishes r<i-2>
 * (a run's records change in three commits), among x.test events. */
static int
setup_runs(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    struct ldg_archive_opts ao;
    struct ldg_archive_report ar;
    int rc;

    assert_non_null(f);
    unlimited();
    f->l = t_ledger_new(f->dir, sizeof f->dir, 0);
    assert_int_equal(ldg_projections_attach(f->l), 0);
    for (int i = 0; i < COMMITS; i++) {
        struct ldg_writer *w;
        char run[3][16];
        assert_int_equal(ldg_writer_new(&w, f->l, NULL), 0);
        for (int j = 0; j < 3; j++)
            snprintf(run[j], sizeof run[j], "r%d", i - j);
        for (int j = 0; j < EACH; j++) {
            struct ldg_event_in in;
            memset(&in, 0, sizeof in);
            if (j == 0) {
                in.type = "run.started";
                in.body = json_pack("{s:s, s:s}", "run", run[0], "pack", "p");
            } else if (j == 1 && i >= 1) {
                in.type = "run.step";
                in.body = json_pack("{s:s, s:s, s:s, s:s}", "run", run[1],
                                    "step", "s", "tool", "t", "status",
                                    i % 3 ? "ok" : "failed");
            } else if (j == 2 && i >= 2) {
                in.type = "run.finished";
                in.body = json_pack("{s:s, s:s, s:i}", "run", run[2], "status",
                                    "ok", "duration_ms", i);
            } else {
                in.type = "x.test.n";
                in.body = json_pack("{s:i}", "i", j);
            }
            if ((rc = ldg_writer_add(w, &in)) != 0)
                fail_msg("%s: %s (%s)", in.type, ldg_strerror(rc),
                         ldg_errmsg(f->l));
            json_decref(in.body);
        }
        assert_int_equal(ldg_writer_flush(w), 0);
        ldg_writer_free(w);
    }
    f->size = 1 + COMMITS * EACH;
    snprintf(f->archive, sizeof f->archive, "%s/a1.segment", f->dir);
    memset(&ao, 0, sizeof ao);
    ao.before = "401";
    ao.out = f->archive;
    if ((rc = ldg_retention_archive(f->l, &ao, &ar)) != 0)
        fail_msg("archive: %s (%s)", ldg_strerror(rc), ldg_errmsg(f->l));
    assert_int_equal(ar.h.horizon, HZ);
    settle(f);
    *state = f;
    return 0;
}

static void
test_retention__steps_keep_the_state_one_fold_gives(void **state)
{
    struct fx *f = *state;
    struct ldg_prune_report r;
    struct ldg_horizon h;
    json_t *whole = NULL, *diffs = NULL;
    char *note = NULL;
    const char *end;
    uint8_t want[32];
    uint64_t nd = 0;

    /* the state the first HZ events fold to, and its signed note */
    assert_int_equal(ldg_projections_horizon_state(f->l, HZ, &whole, &note), 0);
    assert_non_null(end = strstr(note, "\n\n"));
    ldg_sha256(want, note, (size_t)(end - note) + 1);
    changes_max = 400; /* a few commits a step */
    if (prune(f, "401", f->archive, &r) != 0)
        fail_msg("prune: %s", ldg_errmsg(f->l));
    unlimited();
    assert_true(r.steps > 3);
    assert_int_equal(r.events, HZ);
    assert_int_equal(ldg_horizon(f->l, &h), 0);
    assert_memory_equal(h.state, want, 32);
    ldg_horizon_release(&h);
    assert_int_equal(ldg_projections_check(f->l, 0, NULL, NULL, &diffs, &nd),
                     0);
    if (nd != 0) {
        char *s = json_dumps(diffs, 0);
        fail_msg("projections differ: %s", s);
    }
    json_decref(diffs);
    json_decref(whole);
    free(note);
    verifies(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_retention__a_tail_too_large_for_one_transaction_is_named,
            setup9, teardown),
        cmocka_unit_test_setup_teardown(
            test_retention__prune_too_large_for_one_transaction_is_made_in_steps,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_retention__a_commit_too_large_for_one_transaction_is_named,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_retention__a_prune_stopped_between_steps_goes_on, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_retention__a_policy_prune_stopped_between_steps_goes_on, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_retention__run_again_takes_only_the_pinned_archive, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_retention__steps_keep_the_state_one_fold_gives, setup_runs,
            teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
