/*
 * test_retention.c — retention/retention.c, the code that deletes history:
 * a prune removes exactly the events its archive holds and nothing when
 * the archive is not that (another span, a flipped byte, no file, another
 * ledger's, the retention minimum without force); the policy archives and
 * prunes in parts of at most archive_events events, reuses an archive a
 * crash left behind, and sets aside one that fails its check.
 *
 * Written against the API (ldg_retention_archive, _prune, _apply), not the
 * archive's format: a new archive format changes part_name() below at
 * most.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "metrics/metrics.h"
#include "retention/retention.h"
#include "tests/support/support.h"

#define DAY_NS (86400ull * 1000000000ull)

/* The name the policy gives the archive of events first..last. */
static void
part_name(char *buf, size_t cap, const char *adir, uint64_t first,
          uint64_t last)
{
    snprintf(buf, cap, "%s/ledger-%llu-%llu.segment", adir,
             (unsigned long long)first, (unsigned long long)last);
}

struct fx {
    char dir[256], adir[300], file[400];
    struct ldg_ledger *l;
};

/* A ledger of n x.test events after its genesis, one commit each (so
 * that each is a checkpoint, a horizon a prune may take). */
static void
fx_new(struct fx *f, int n)
{
    f->l = t_ledger_new(f->dir, sizeof f->dir, 0);
    for (int i = 0; i < n; i++)
        t_append(f->l, "x.test.n", "{\"i\":1}", NULL);
    snprintf(f->adir, sizeof f->adir, "%s/archive", f->dir);
    snprintf(f->file, sizeof f->file, "%s/a.archive", f->dir);
}

static void
fx_free(struct fx *f)
{
    ldg_close(f->l);
    t_rmrf(f->dir);
}

static uint64_t
size_of(struct ldg_ledger *l)
{
    struct ldg_txn *t;
    uint64_t n = 0;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_txn_size(t, &n), 0);
    ldg_txn_abort(t);
    return n;
}

/* ldg_event_get's answer for seq. */
static int
event_rc(struct ldg_ledger *l, uint64_t seq)
{
    struct ldg_txn *t;
    struct ldg_event ev;
    int rc;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    rc = ldg_event_get(t, seq, &ev);
    ldg_txn_abort(t);
    return rc;
}

static void
archive_to(struct fx *f, const char *before, const char *out)
{
    struct ldg_archive_opts ao;
    struct ldg_archive_report ar;
    memset(&ao, 0, sizeof ao);
    ao.before = before;
    ao.out = out;
    if (ldg_retention_archive(f->l, &ao, &ar) != 0)
        fail_msg("archive: %s", ldg_errmsg(f->l));
}

static int
prune_with(struct fx *f, const char *before, const char *archive,
           struct ldg_prune_report *pr)
{
    struct ldg_prune_opts po;
    memset(&po, 0, sizeof po);
    po.before = before;
    po.archive = archive;
    return ldg_retention_prune(f->l, &po, pr);
}

static void
assert_verifies(struct ldg_ledger *l)
{
    struct ldg_verify_report vr;
    memset(&vr, 0, sizeof vr);
    if (ldg_verify(l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0, &vr, NULL,
                   NULL) != 0)
        fail_msg("verify: event %llu: %s", (unsigned long long)vr.bad_seq,
                 vr.what);
}

static void
test_retention__prune_removes_exactly_the_archived_events(void **state)
{
    struct fx f;
    struct ldg_prune_report pr;
    uint64_t n;
    (void)state;
    fx_new(&f, 30);
    n = size_of(f.l);
    archive_to(&f, "11", f.file);
    assert_int_equal(prune_with(&f, "11", f.file, &pr), 0);
    assert_int_equal(pr.h.first, 0);
    assert_int_equal(pr.h.horizon, 11);
    assert_int_equal(pr.events, 11);
    /* the ledger.pruned event is the one event added */
    assert_int_equal(size_of(f.l), n + 1);
    assert_int_equal(pr.pruned_seq, n);
    assert_int_equal(event_rc(f.l, 0), LDG_EPRUNED);
    assert_int_equal(event_rc(f.l, 10), LDG_EPRUNED);
    assert_int_equal(event_rc(f.l, 11), 0);
    assert_verifies(f.l);
    /* a second prune continues from the horizon */
    snprintf(f.file, sizeof f.file, "%s/b.archive", f.dir);
    archive_to(&f, "20", f.file);
    assert_int_equal(prune_with(&f, "20", f.file, &pr), 0);
    assert_int_equal(pr.h.first, 11);
    assert_int_equal(pr.events, 9);
    assert_int_equal(event_rc(f.l, 19), LDG_EPRUNED);
    assert_verifies(f.l);
    fx_free(&f);
}

/* Each refusal leaves every event where it was. */
static void
assert_nothing_pruned(struct fx *f, uint64_t n)
{
    assert_int_equal(size_of(f->l), n);
    assert_int_equal(event_rc(f->l, 0), 0);
    assert_int_equal(event_rc(f->l, 5), 0);
}

static void
flip_byte(const char *path, long at)
{
    FILE *fp = fopen(path, "r+b");
    int c;
    assert_non_null(fp);
    if (at < 0) {
        fseek(fp, 0, SEEK_END);
        at = ftell(fp) / 2;
    }
    fseek(fp, at, SEEK_SET);
    c = fgetc(fp);
    fseek(fp, at, SEEK_SET);
    fputc(c ^ 0x40, fp);
    fclose(fp);
}

static void
test_retention__prune_refuses_what_is_not_the_archive(void **state)
{
    struct fx f, g;
    struct ldg_prune_report pr;
    char other[400], missing[400];
    uint64_t n;
    int rc;
    (void)state;
    fx_new(&f, 30);
    n = size_of(f.l);
    archive_to(&f, "10", f.file);
    /* another span: the archive of 0..9 for a prune before 20 */
    assert_int_equal(prune_with(&f, "20", f.file, &pr), LDG_ETAMPER);
    assert_non_null(strstr(ldg_errmsg(f.l), "a.archive"));
    assert_nothing_pruned(&f, n);
    /* no file */
    snprintf(missing, sizeof missing, "%s/none.archive", f.dir);
    assert_int_equal(prune_with(&f, "10", missing, &pr), LDG_ENOTFOUND);
    assert_nothing_pruned(&f, n);
    /* another ledger's archive of the same span */
    fx_new(&g, 30);
    snprintf(other, sizeof other, "%s/g.archive", f.dir);
    archive_to(&g, "10", other);
    rc = prune_with(&f, "10", other, &pr);
    assert_true(rc == LDG_ETAMPER || rc == LDG_EBADINPUT);
    assert_nothing_pruned(&f, n);
    fx_free(&g);
    /* a flipped byte in the middle of the right one */
    flip_byte(f.file, -1);
    rc = prune_with(&f, "10", f.file, &pr);
    assert_true(rc == LDG_ETAMPER || rc == LDG_EBADINPUT);
    assert_nothing_pruned(&f, n);
    assert_verifies(f.l);
    fx_free(&f);
}

static void
test_retention__keep_days_refuses_without_force(void **state)
{
    struct fx f;
    struct ldg_prune_opts po;
    struct ldg_prune_report pr;
    uint64_t n;
    (void)state;
    fx_new(&f, 12);
    n = size_of(f.l);
    archive_to(&f, "8", f.file);
    memset(&po, 0, sizeof po);
    po.before = "8";
    po.archive = f.file;
    po.keep_days = 30; /* the events are seconds old */
    assert_int_equal(ldg_retention_prune(f.l, &po, &pr), LDG_EINVAL);
    assert_nothing_pruned(&f, n);
    /* the same a month later, or with force */
    po.now_ns = ldg_now_wall_ns() + 31 * DAY_NS;
    assert_int_equal(ldg_retention_prune(f.l, &po, &pr), 0);
    assert_int_equal(pr.events, 8);
    fx_free(&f);
}

static void
policy_for(struct ldg_retention_policy *p, const struct fx *f,
           uint64_t archive_events)
{
    memset(p, 0, sizeof *p);
    p->keep_days = 1;
    snprintf(p->archive_dir, sizeof p->archive_dir, "%s", f->adir);
    p->archive_events = archive_events;
}

static void
test_retention__policy_prunes_in_parts(void **state)
{
    struct fx f;
    struct ldg_retention_policy p;
    struct ldg_policy_report r;
    char name[400];
    struct stat st;
    uint64_t n;
    (void)state;
    fx_new(&f, 40);
    n = size_of(f.l);
    policy_for(&p, &f, 15);
    /* nothing is a day old yet */
    assert_int_equal(ldg_retention_apply(f.l, &p, 0, 0, &r), 0);
    assert_int_equal(r.pruned, 0);
    assert_non_null(strstr(r.why, "nothing to prune"));
    /* two days on, all of it, in parts of at most 15 events */
    assert_int_equal(
        ldg_retention_apply(f.l, &p, 0, ldg_now_wall_ns() + 2 * DAY_NS, &r), 0);
    assert_int_equal(r.pruned, 3);
    assert_int_equal(r.archived, 3);
    assert_int_equal(r.first, 0);
    assert_int_equal(r.events, n);
    part_name(name, sizeof name, f.adir, 0, 14);
    assert_int_equal(stat(name, &st), 0);
    part_name(name, sizeof name, f.adir, 15, 29);
    assert_int_equal(stat(name, &st), 0);
    part_name(name, sizeof name, f.adir, 30, n - 1);
    assert_int_equal(stat(name, &st), 0);
    assert_int_equal(event_rc(f.l, n - 1), LDG_EPRUNED);
    /* again: the ledger.pruned events are all that is left, and young */
    assert_int_equal(
        ldg_retention_apply(f.l, &p, 0, ldg_now_wall_ns() + 2 * DAY_NS, &r), 0);
    assert_verifies(f.l);
    fx_free(&f);
}

static void
test_retention__policy_reuses_or_sets_aside_a_left_archive(void **state)
{
    struct fx f;
    struct ldg_retention_policy p;
    struct ldg_policy_report r;
    char name[400], aside[4300];
    struct stat st;
    uint64_t n;
    FILE *fp;
    (void)state;
    /* an archive a crash left, whole: used, not written again */
    fx_new(&f, 20);
    n = size_of(f.l);
    policy_for(&p, &f, 0);
    assert_int_equal(mkdir(f.adir, 0750), 0);
    part_name(name, sizeof name, f.adir, 0, n - 1);
    snprintf(f.file, sizeof f.file, "%s", name);
    {
        char before[32];
        snprintf(before, sizeof before, "%llu", (unsigned long long)n);
        archive_to(&f, before, name);
    }
    assert_int_equal(
        ldg_retention_apply(f.l, &p, 0, ldg_now_wall_ns() + 2 * DAY_NS, &r), 0);
    assert_int_equal(r.pruned, 1);
    assert_int_equal(r.archived, 0);
    assert_int_equal(r.set_aside[0], '\0');
    fx_free(&f);
    /* one that is not the archive (a crash mid-write, a swap): set aside
     * with why, written again, pruned */
    fx_new(&f, 20);
    n = size_of(f.l);
    policy_for(&p, &f, 0);
    assert_int_equal(mkdir(f.adir, 0750), 0);
    part_name(name, sizeof name, f.adir, 0, n - 1);
    fp = fopen(name, "wb");
    assert_non_null(fp);
    fputs("not an archive\n", fp);
    fclose(fp);
    assert_int_equal(
        ldg_retention_apply(f.l, &p, 0, ldg_now_wall_ns() + 2 * DAY_NS, &r), 0);
    assert_int_equal(r.pruned, 1);
    assert_int_equal(r.archived, 1);
    assert_true(r.set_aside[0] != '\0');
    assert_true(r.set_aside_why[0] != '\0');
    snprintf(aside, sizeof aside, "%s", r.set_aside);
    assert_int_equal(stat(aside, &st), 0);
    assert_int_equal(stat(name, &st), 0);
    assert_int_equal(event_rc(f.l, 0), LDG_EPRUNED);
    assert_verifies(f.l);
    fx_free(&f);
}

/* An embedder's prune keeps the metrics whole by itself: the counts
 * cached in DIR/metrics-cache.json are brought up to the log before the
 * events go, so they go on over the pruned events; a ledger whose
 * metrics were never cached gets no cache. */
static void
test_retention__prune_brings_the_metrics_cache_up_first(void **state)
{
    struct fx f;
    struct ldg_prune_report pr;
    struct ldg_metrics *m = NULL;
    struct ldg_txn *t = NULL;
    char cache[400], err[256];
    uint64_t n;
    (void)state;
    fx_new(&f, 10);
    snprintf(cache, sizeof cache, "%s/%s", f.dir, LDG_METRICS_CACHE_FILE);
    /* no cache: none made */
    archive_to(&f, "4", f.file);
    assert_int_equal(prune_with(&f, "4", f.file, &pr), 0);
    assert_string_equal(pr.metrics_note, "");
    assert_int_equal(access(cache, F_OK), -1);
    /* a cache at this size, then 20 more events, pruned past some */
    assert_int_equal(ldg_metrics_new(&m), 0);
    assert_int_equal(ldg_txn_begin(f.l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_metrics_update(m, t, NULL, err, sizeof err), 0);
    ldg_txn_abort(t);
    assert_int_equal(ldg_metrics_save(m, cache, err, sizeof err), 0);
    ldg_metrics_free(m);
    for (int i = 0; i < 20; i++)
        t_append(f.l, "x.test.n", "{\"i\":2}", NULL);
    n = size_of(f.l);
    snprintf(f.file, sizeof f.file, "%s/b.archive", f.dir);
    archive_to(&f, "25", f.file);
    assert_int_equal(prune_with(&f, "25", f.file, &pr), 0);
    assert_string_equal(pr.metrics_note, "");
    assert_int_equal(ldg_metrics_new(&m), 0);
    assert_int_equal(ldg_metrics_load(m, cache), 0);
    /* counted up to the log as it was before the prune */
    assert_int_equal(ldg_metrics_size(m), n);
    ldg_metrics_free(m);
    fx_free(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_retention__prune_removes_exactly_the_archived_events),
        cmocka_unit_test(test_retention__prune_refuses_what_is_not_the_archive),
        cmocka_unit_test(test_retention__keep_days_refuses_without_force),
        cmocka_unit_test(test_retention__policy_prunes_in_parts),
        cmocka_unit_test(
            test_retention__policy_reuses_or_sets_aside_a_left_archive),
        cmocka_unit_test(
            test_retention__prune_brings_the_metrics_cache_up_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
