/*
 * test_doctor.c — verdicts and exit codes, and the live box-wide clauses:
 * chain-verified, keys-valid, projections-current, disk-headroom (its
 * growth window and thresholds; ldg_doctor_full_advice).
 */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "doctor/doctor.h"
#include "ingest/ingest.h"
#include "tests/support/support.h"

/*
 * The host's disk must not decide these tests: a build box at 95% used
 * would fail disk-headroom's floor and every test that expects a healthy
 * verdict. The doctor (linked into this program) finds this statvfs
 * first: the real file system's figures, with at least half of it free.
 */
int
statvfs(const char *path, struct statvfs *buf)
{
    int (*next)(const char *, struct statvfs *);
    int rc;

    *(void **)&next = dlsym(RTLD_NEXT, "statvfs");
    if (next == NULL)
        return -1;
    rc = next(path, buf);
    if (rc == 0 && buf->f_bavail < buf->f_blocks / 2)
        buf->f_bavail = buf->f_blocks / 2;
    return rc;
}

static void
ingest(struct ldg_ledger *l, const char *rel)
{
    struct ldg_ingest_opts o;
    struct ldg_ingest_report rep;
    char path[1024];
    const char *src = getenv("LEDGER_SRC");
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", src ? src : ".", rel);
    f = fopen(path, "rb");
    assert_non_null(f);
    memset(&o, 0, sizeof o);
    assert_int_equal(ldg_ingest(l, f, &o, &rep), 0);
    fclose(f);
}

static json_t *
run(struct ldg_ledger *l, const char *pack, uint64_t at, int *verdict)
{
    struct ldg_doctor_opts o;
    json_t *d = NULL;
    memset(&o, 0, sizeof o);
    o.pack = pack;
    o.at_size = at;
    assert_int_equal(ldg_doctor_run(l, &o, &d, verdict), 0);
    return d;
}

static json_t *
box(json_t *d, const char *name)
{
    size_t i;
    json_t *x;
    json_array_foreach(
        json_object_get(d, "box"), i,
        x) if (strcmp(json_string_value(json_object_get(x, "name")), name) ==
               0) return x;
    return NULL;
}

static const char *
status(json_t *clause)
{
    assert_non_null(clause);
    return json_string_value(json_object_get(clause, "status"));
}

static void
test_doctor__pdf_ops_is_degraded(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    json_t *d, *p, *x;
    int verdict = -1;
    size_t i;
    int routes = 0, models = 0;
    (void)state;
    assert_int_equal(ldg_projections_attach(l), 0);
    ingest(l, "examples/pdf-ops.jsonl");
    d = run(l, "pdf-ops", 0, &verdict);
    assert_int_equal(verdict, LDG_DOCTOR_DEGRADED);
    p = json_array_get(json_object_get(d, "packs"), 0);
    assert_string_equal(json_string_value(json_object_get(p, "verdict")),
                        "degraded");
    json_array_foreach(json_object_get(p, "clauses"), i, x)
    {
        const char *n = json_string_value(json_object_get(x, "name"));
        assert_string_equal(status(x), "fail");
        assert_true(json_array_size(json_object_get(x, "remedy")) > 0);
        routes += strcmp(n, "routes-proven") == 0;
        models += strcmp(n, "models-available") == 0;
    }
    assert_int_equal(routes, 1);
    assert_int_equal(models, 1);
    /* init verified the genesis: the doctor checked the rest just now */
    assert_string_equal(status(box(d, "chain-verified")), "ok");
    json_decref(d);
    /* a ledger never verified (made before init verified its genesis):
     * unknown, with the command that fixes it */
    t_forget_verified(l);
    d = run(l, "pdf-ops", 0, &verdict);
    assert_string_equal(status(box(d, "chain-verified")), "unknown");
    assert_string_equal(
        json_string_value(json_array_get(
            json_object_get(box(d, "chain-verified"), "remedy"), 0)),
        "ledger verify");
    json_decref(d);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_doctor__verify_makes_the_chain_clause_hold(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_verify_report vr;
    json_t *d;
    int verdict;
    (void)state;
    assert_int_equal(ldg_projections_attach(l), 0);
    ingest(l, "examples/scenarios/ready.jsonl");
    /* a fresh ledger is verified (init checked its genesis, the doctor
     * the events since): healthy, not unknown (issue 46: 3 until the
     * first `ledger verify`) */
    d = run(l, NULL, 0, &verdict);
    assert_int_equal(verdict, LDG_DOCTOR_HEALTHY);
    json_decref(d);
    /* everything holds but the chain was never verified: unknown (3) */
    t_forget_verified(l);
    d = run(l, NULL, 0, &verdict);
    assert_int_equal(verdict, LDG_DOCTOR_UNKNOWN);
    json_decref(d);
    assert_int_equal(ldg_verify(l, 0, 0, &vr, NULL, NULL), 0);
    d = run(l, NULL, 0, &verdict);
    assert_string_equal(status(box(d, "chain-verified")), "ok");
    assert_string_equal(json_string_value(json_object_get(d, "verdict")),
                        "healthy");
    assert_int_equal(verdict, LDG_DOCTOR_HEALTHY);
    json_decref(d);
    /* one more event: the doctor checks what is new since the recorded
     * verification and records it (issue 29: it said "unknown" after
     * every write until someone ran ledger verify) */
    t_append(l, "x.test.more", "{}", NULL);
    d = run(l, "notes", 0, &verdict);
    assert_string_equal(status(box(d, "chain-verified")), "ok");
    assert_int_equal(verdict, LDG_DOCTOR_HEALTHY);
    assert_non_null(
        strstr(json_string_value(json_array_get(
                   json_object_get(box(d, "chain-verified"), "detail"), 1)),
               "checked just now"));
    json_decref(d);
    {
        struct ldg_verify_state vs;
        uint64_t n = 0;
        struct ldg_txn *t = NULL;
        assert_int_equal(ldg_verify_state(l, &vs), 0);
        assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
        assert_int_equal(ldg_txn_size(t, &n), 0);
        ldg_txn_abort(t);
        assert_true(vs.verified_size == n); /* recorded */
    }
    /* more new events than max_events: nothing checked or recorded */
    for (int i = 0; i < 3; i++)
        t_append(l, "x.test.more", "{}", NULL);
    {
        struct ldg_verify_report nr;
        assert_int_equal(ldg_doctor_verify_new(l, 2, &nr, NULL, 0), LDG_EFULL);
        assert_int_equal(nr.recorded, 0);
        assert_int_equal(ldg_doctor_verify_new(l, 3, &nr, NULL, 0), 0);
        assert_int_equal(nr.checked, 3);
        assert_int_equal(nr.recorded, 1);
        assert_int_equal(ldg_doctor_verify_new(l, 3, &nr, NULL, 0), 0);
        assert_int_equal(nr.checked, 0); /* nothing new */
    }
    /* but --at a verified size says ok */
    d = run(l, "notes", 17, &verdict);
    assert_string_equal(status(box(d, "chain-verified")), "ok");
    assert_int_equal(verdict, LDG_DOCTOR_HEALTHY);
    json_decref(d);
    ldg_close(l);
    t_rmrf(dir);
}

/* A body altered after it was appended and before anything verified it:
 * the doctor's check of new events finds it, records the finding (so
 * `ledger verify` fails with it too) and the clause fails naming it. */
static void
test_doctor__a_new_event_altered_fails_the_chain_clause(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_verify_report vr;
    struct ldg_verify_state vs;
    uint8_t buf[4096];
    uint64_t seq;
    size_t n;
    json_t *d;
    int verdict;
    (void)state;
    assert_int_equal(ldg_projections_attach(l), 0);
    ingest(l, "examples/scenarios/ready.jsonl");
    assert_int_equal(ldg_verify(l, 0, 0, &vr, NULL, NULL), 0);
    t_append(l, "x.test.more", "{\"a\":1}", NULL);
    seq = t_append(l, "x.test.more", "{\"a\":2}", NULL);
    t_append(l, "x.test.more", "{\"a\":3}", NULL);
    n = t_raw_get(l, "bodies", seq, buf, sizeof buf);
    buf[n - 1] ^= 0x01;
    t_raw_put(l, "bodies", seq, buf, n);
    d = run(l, NULL, 0, &verdict);
    assert_string_equal(status(box(d, "chain-verified")), "fail");
    assert_int_equal(verdict, LDG_DOCTOR_DEGRADED);
    json_decref(d);
    assert_int_equal(ldg_verify_state(l, &vs), 0);
    assert_int_equal(vs.finding, 1);
    assert_true(vs.finding_seq == seq);
    assert_non_null(strstr(vs.finding_what, "body"));
    /* a plain verify fails with it; the doctor's new-event check too */
    assert_int_equal(ldg_verify(l, 0, 0, &vr, NULL, NULL), LDG_ETAMPER);
    assert_int_equal(ldg_doctor_verify_new(l, 100, &vr, NULL, 0), LDG_ETAMPER);
    assert_int_equal(vr.finding_stands, 1);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_doctor__a_blocked_pack_exits_2(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    json_t *d;
    int verdict;
    (void)state;
    assert_int_equal(ldg_projections_attach(l), 0);
    ingest(l, "examples/scenarios/permissions.jsonl");
    /* at seq 7 the fs.write group was denied */
    d = run(l, "mail", 8, &verdict);
    assert_int_equal(verdict, LDG_DOCTOR_BLOCKED);
    json_decref(d);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_doctor__a_revoked_key_left_on_disk_fails_keys_valid(void **state)
{
    char dir[256], path[512];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    json_t *d;
    uint64_t seq;
    int verdict;
    (void)state;
    assert_int_equal(ldg_projections_attach(l), 0);
    d = run(l, NULL, 0, &verdict);
    assert_string_equal(status(box(d, "keys-valid")), "ok");
    json_decref(d);
    assert_int_equal(ldg_keys_add(l, "ops", NULL, &seq), 0);
    /* revocation wipes the key file; one left on disk (a copy put back,
     * or a ledger revoked by an older version) is what doctor flags */
    snprintf(path, sizeof path, "%s/keys/ops.key", dir);
    {
        char text[512];
        size_t n;
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        n = fread(text, 1, sizeof text, f);
        fclose(f);
        assert_int_equal(ldg_keys_revoke(l, "ops", "leaked", &seq), 0);
        assert_int_not_equal(access(path, F_OK), 0);
        f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(text, 1, n, f), n);
        fclose(f);
        assert_int_equal(chmod(path, 0600), 0);
    }
    d = run(l, NULL, 0, &verdict);
    assert_string_equal(status(box(d, "keys-valid")), "fail");
    assert_int_equal(verdict, LDG_DOCTOR_DEGRADED);
    json_decref(d);
    assert_int_equal(unlink(path), 0);
    d = run(l, NULL, 0, &verdict);
    assert_string_equal(status(box(d, "keys-valid")), "ok");
    json_decref(d);
    /* a log key readable by others fails */
    snprintf(path, sizeof path, "%s/keys/log.key", dir);
    assert_int_equal(chmod(path, 0644), 0);
    d = run(l, NULL, 0, &verdict);
    assert_string_equal(status(box(d, "keys-valid")), "fail");
    json_decref(d);
    assert_int_equal(chmod(path, 0600), 0);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_doctor__projections_behind_fail_but_answer_is_current(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    json_t *d, *p;
    int verdict;
    (void)state;
    /* no projections attached: an appender that keeps none */
    ingest(l, "examples/pdf-ops.jsonl");
    d = run(l, "pdf-ops", 0, &verdict);
    assert_string_equal(status(box(d, "projections-current")), "fail");
    p = json_array_get(json_object_get(d, "packs"), 0);
    assert_string_equal(json_string_value(json_object_get(p, "state")),
                        "declared-not-proven");
    assert_int_equal(verdict, LDG_DOCTOR_DEGRADED);
    json_decref(d);
    assert_int_equal(ldg_projections_attach(l), 0);
    d = run(l, "pdf-ops", 0, &verdict);
    assert_string_equal(status(box(d, "projections-current")), "ok");
    json_decref(d);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_doctor__disk_headroom_is_measured(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    json_t *d, *c;
    int verdict;
    (void)state;
    assert_int_equal(ldg_projections_attach(l), 0);
    d = run(l, NULL, 0, &verdict);
    c = box(d, "disk-headroom");
    assert_non_null(c);
    assert_true(strcmp(status(c), "ok") == 0 ||
                strcmp(status(c), "warn") == 0 ||
                strcmp(status(c), "fail") == 0);
    assert_non_null(strstr(
        json_string_value(json_array_get(json_object_get(c, "detail"), 0)),
        "iB free ("));
    assert_true(json_is_integer(json_object_get(c, "free_bytes")));
    assert_int_equal(json_integer_value(json_object_get(c, "keep_days")), 180);
    json_decref(d);
    /* --at judges the host's reported value only */
    d = run(l, NULL, 1, &verdict);
    assert_null(box(d, "disk-headroom"));
    json_decref(d);
    ldg_close(l);
    t_rmrf(dir);
}

/* ------------------------------------------------------ disk-headroom -- */

#define DAY_NS (86400ull * 1000000000ull)

/* Appends n events of 16 KiB of random hex each. */
static void
t_append_big(struct ldg_ledger *l, int n)
{
    static char body[16500];
    static unsigned x = 2463534242u;
    for (int i = 0; i < n; i++) {
        size_t k = (size_t)snprintf(body, sizeof body, "{\"pad\":\"");
        for (; k < 16384; k++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            body[k] = "0123456789abcdef"[x & 15];
        }
        snprintf(body + k, sizeof body - k, "\"}");
        t_append(l, "x.test", body, NULL);
    }
}

/* The doctor as of now_ns (growth up to then). */
static json_t *
run_at_time(struct ldg_ledger *l, uint64_t now_ns, int *verdict)
{
    struct ldg_doctor_opts o;
    json_t *d = NULL;
    memset(&o, 0, sizeof o);
    o.now_ns = now_ns;
    assert_int_equal(ldg_doctor_run(l, &o, &d, verdict), 0);
    return d;
}

static double
num(json_t *c, const char *k)
{
    json_t *v = json_object_get(c, k);
    assert_true(json_is_number(v));
    return json_number_value(v);
}

static const char *
detail(json_t *c, size_t i)
{
    const char *s =
        json_string_value(json_array_get(json_object_get(c, "detail"), i));
    assert_non_null(s);
    return s;
}

static void
write_policy(const char *dir, const char *text)
{
    char path[512];
    FILE *f;
    snprintf(path, sizeof path, "%s/retention.json", dir);
    assert_non_null(f = fopen(path, "w"));
    fputs(text, f);
    fclose(f);
}

/* The rate: the events of the last 7 days (ledger time) up to the
 * doctor's now, or the log's whole span when it is younger, never under a
 * day; none in the window is "not growing". */
static void
test_doctor__growth_is_measured_over_the_window(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    uint64_t t0 = ldg_now_wall_ns(), clock = t0 + 5 * DAY_NS; /* genesis ~ t0 */
    json_t *d, *c;
    int verdict, i;
    (void)state;
    ldg_set_clock(l, &clock);
    for (i = 0; i < 14; i++)
        t_append(l, "x.test", "{\"i\":1}", NULL);
    ldg_set_clock(l, NULL);
    /* 10 days on: the log is older than the window [t0+3d, t0+10d], which
     * holds the 14 events of day 5 */
    d = run_at_time(l, t0 + 10 * DAY_NS, &verdict);
    c = box(d, "disk-headroom");
    assert_true(num(c, "window_days") == 7.0);
    assert_true(num(c, "events_per_day") == 2.0);
    assert_non_null(strstr(detail(c, 1), "(over the last 7 days)"));
    assert_true(json_is_integer(json_object_get(c, "days_left")));
    json_decref(d);
    /* 2 days on: younger than the window, its whole span: 15 in 2 days */
    d = run_at_time(l, t0 + 2 * DAY_NS, &verdict);
    c = box(d, "disk-headroom");
    assert_true(num(c, "window_days") > 1.99 && num(c, "window_days") < 2.01);
    assert_true(num(c, "events_per_day") > 7.49 &&
                num(c, "events_per_day") < 7.51);
    assert_non_null(strstr(detail(c, 1), "(over the log's 2.0 days)"));
    json_decref(d);
    /* an hour on: a day at least */
    d = run_at_time(l, t0 + DAY_NS / 24, &verdict);
    c = box(d, "disk-headroom");
    assert_true(num(c, "window_days") == 1.0);
    assert_true(num(c, "events_per_day") == 15.0);
    assert_non_null(strstr(detail(c, 1), "younger than a day"));
    json_decref(d);
    /* 13 days on: nothing in the window [t0+6d, t0+13d] */
    d = run_at_time(l, t0 + 13 * DAY_NS, &verdict);
    c = box(d, "disk-headroom");
    assert_string_equal(status(c), "ok");
    assert_true(json_is_null(json_object_get(c, "days_left")));
    assert_true(num(c, "events_per_day") == 0.0);
    assert_string_equal(detail(c, 1),
                        "not growing: no event appended in the last 7 days");
    assert_null(json_object_get(c, "remedy"));
    json_decref(d);
    ldg_close(l);
    t_rmrf(dir);
}

/* Bytes an event are the store's bytes in use (every database but the
 * free pages, as ldg_stats_databases counts them) over its events. */
static void
test_doctor__bytes_per_event_are_the_stores(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_db_size *dbs = NULL;
    uint64_t used = 0, size = 0;
    size_t n = 0, i;
    json_t *d, *c;
    int verdict;
    (void)state;
    t_append_many(l, 200);
    d = run_at_time(l, 0, &verdict);
    assert_int_equal(ldg_stats_databases(l, &dbs, &n), 0);
    for (i = 0; i < n; i++)
        if (strcmp(dbs[i].name, "(free)") != 0)
            used += dbs[i].bytes;
    free(dbs);
    assert_int_equal(ldg_size(l, &size), 0);
    c = box(d, "disk-headroom");
    assert_true(num(c, "bytes_per_event") == (double)used / (double)size);
    /* a log younger than a day: its bytes in use are its day's */
    assert_true(num(c, "bytes_per_day") > (double)used * 0.999 &&
                num(c, "bytes_per_day") < (double)used * 1.001);
    json_decref(d);
    ldg_close(l);
    t_rmrf(dir);
}

/* Days left under keep_days fail (degraded), under twice it warn (no
 * change of verdict), else ok; warn and fail name the remedies. */
static void
test_doctor__days_left_against_keep_days(void **state)
{
    char dir[256], text[128], want[600];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_verify_report vr;
    json_t *d, *c, *r;
    long long left;
    double used;
    int verdict, floor_fails;
    (void)state;
    assert_int_equal(ldg_projections_attach(l), 0);
    /* a store that lasts about 10,000 days at its rate (a log younger
     * than a day grows by its bytes in use a day): keep_days of each case
     * is then worked out from the days measured, on any disk */
    for (;;) {
        t_append_big(l, 100);
        d = run(l, NULL, 0, &verdict);
        c = box(d, "disk-headroom");
        left = (long long)json_integer_value(json_object_get(c, "days_left"));
        floor_fails = strcmp(status(c), "fail") == 0;
        used = num(c, "bytes_per_day");
        json_decref(d);
        if (floor_fails || left <= 10000 || used > 512e6)
            break;
    }
    assert_int_equal(ldg_verify(l, 0, 0, &vr, NULL, NULL), 0);
    if (floor_fails || left < 3 || left > 10000) {
        /* under the floor, or a disk too large for a test's store */
        print_message("disk-headroom thresholds not checked: %lld days\n",
                      left);
        ldg_close(l);
        t_rmrf(dir);
        return;
    }
    snprintf(text, sizeof text, "{\"keep_days\": %lld}", left / 3);
    write_policy(dir, text);
    d = run(l, NULL, 0, &verdict);
    assert_string_equal(status(box(d, "disk-headroom")), "ok");
    assert_int_equal(verdict, LDG_DOCTOR_HEALTHY);
    json_decref(d);
    snprintf(text, sizeof text, "{\"keep_days\": %lld}", left * 2 / 3);
    write_policy(dir, text);
    d = run(l, NULL, 0, &verdict);
    c = box(d, "disk-headroom");
    assert_string_equal(status(c), "warn");
    assert_int_equal(verdict, LDG_DOCTOR_HEALTHY); /* a warning, no more */
    /* every event is younger than keep_days: no prune to suggest */
    r = json_object_get(c, "remedy");
    assert_int_equal(json_array_size(r), 1);
    snprintf(want, sizeof want,
             "no event is older than the retention policy's %lld days, so a "
             "prune would remove nothing: free space on the file system of "
             "%s",
             left * 2 / 3, dir);
    assert_non_null(strstr(json_string_value(json_array_get(r, 0)), want));
    json_decref(d);
    snprintf(text, sizeof text, "{\"keep_days\": %lld}", left * 3 / 2);
    write_policy(dir, text);
    d = run(l, NULL, 0, &verdict);
    c = box(d, "disk-headroom");
    assert_string_equal(status(c), "fail");
    assert_non_null(strstr(detail(c, 2), "fewer than the retention minimum"));
    assert_int_equal(verdict, LDG_DOCTOR_DEGRADED);
    json_decref(d);
    /* not growing passes whatever keep_days says */
    d = run_at_time(l, ldg_now_wall_ns() + 30 * DAY_NS, &verdict);
    assert_string_equal(status(box(d, "disk-headroom")), "ok");
    json_decref(d);
    ldg_close(l);
    t_rmrf(dir);
}

/* A malformed retention.json fails the clause, naming the file's error;
 * the growth is still said. */
static void
test_doctor__malformed_policy_fails_headroom(void **state)
{
    char dir[256], want[600];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    json_t *d, *c;
    int verdict;
    (void)state;
    write_policy(dir, "{\"keep_days\": 30,\n}\n");
    d = run(l, NULL, 0, &verdict);
    c = box(d, "disk-headroom");
    assert_string_equal(status(c), "fail");
    assert_true(json_is_null(json_object_get(c, "keep_days")));
    assert_true(json_is_integer(json_object_get(c, "days_left")));
    snprintf(want, sizeof want, "%s/retention.json:2:1: ", dir);
    assert_non_null(strstr(detail(c, 3), want));
    assert_int_equal(verdict, LDG_DOCTOR_DEGRADED);
    json_decref(d);
    write_policy(dir, "{\"keep_days\": 40000}");
    d = run(l, NULL, 0, &verdict);
    c = box(d, "disk-headroom");
    assert_string_equal(status(c), "fail");
    assert_non_null(strstr(detail(c, 3), "\"keep_days\": must be"));
    json_decref(d);
    ldg_close(l);
    t_rmrf(dir);
}

/* The advice for a write refused for a full disk: the free space and
 * what makes room, from the policy; always a NUL-terminated line. */
static void
test_doctor__full_advice_names_space_and_prune(void **state)
{
    char dir[256], buf[2048], want[600], small[40];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    size_t n;
    (void)state;
    n = ldg_doctor_full_advice(dir, buf, sizeof buf);
    assert_int_equal(n, strlen(buf));
    snprintf(want, sizeof want, " free on the file system of %s; ", dir);
    assert_non_null(strstr(buf, want));
    snprintf(want, sizeof want, "`ledger --dir %s prune --policy`", dir);
    assert_non_null(strstr(buf, want));
    assert_non_null(strstr(buf, "free some space on it first"));
    assert_non_null(strstr(buf, "the retention policy's 180 days"));
    snprintf(want, sizeof want, "into %s/archive", dir);
    assert_non_null(strstr(buf, want));
    assert_non_null(strstr(buf, "`ledger stats --databases`"));
    write_policy(dir, "{\"keep_days\": 30, \"archive_dir\": \"/srv/a\"}");
    ldg_doctor_full_advice(dir, buf, sizeof buf);
    assert_non_null(strstr(buf, "policy's 30 days into /srv/a"));
    write_policy(dir, "{\"keep_days\": }");
    ldg_doctor_full_advice(dir, buf, sizeof buf);
    snprintf(want, sizeof want, "cannot be read (%s/retention.json:1:", dir);
    assert_non_null(strstr(buf, want));
    assert_non_null(strstr(buf, "`ledger prune --policy`"));
    /* cut to the buffer */
    n = ldg_doctor_full_advice(dir, small, sizeof small);
    assert_int_equal(n, sizeof small - 1);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_int_equal(ldg_doctor_full_advice(dir, NULL, 0), 0);
    ldg_close(l);
    t_rmrf(dir);
}

/* A failure that belongs to one pack (an ungated promotion on its route)
 * counts for that pack, not for every pack and not box-wide. */
static void
test_doctor__another_packs_failure_is_not_this_packs(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_verify_report vr;
    json_t *d;
    int verdict;
    (void)state;
    assert_int_equal(ldg_projections_attach(l), 0);
    ingest(l, "examples/scenarios/ready.jsonl");      /* pack notes */
    ingest(l, "examples/scenarios/promotions.jsonl"); /* pack sum */
    /* cand-a's eval E1 is worse than base's: an ungated promotion on
     * route sum/main, which pack sum uses */
    t_append(l, "promotion.promoted",
             "{\"target\":\"route:sum/main\",\"candidate\":\"cand-a\","
             "\"eval_id\":\"E1\"}",
             NULL);
    assert_int_equal(ldg_verify(l, 0, 0, &vr, NULL, NULL), 0);
    d = run(l, "notes", 0, &verdict);
    assert_string_equal(status(box(d, "promotions-gated")), "ok");
    if (strcmp(status(box(d, "disk-headroom")), "ok") == 0)
        assert_int_equal(verdict, LDG_DOCTOR_HEALTHY);
    json_decref(d);
    d = run(l, "sum", 0, &verdict);
    assert_int_equal(verdict, LDG_DOCTOR_DEGRADED);
    json_decref(d);
    d = run(l, NULL, 0, &verdict); /* the box: the worst of its packs */
    assert_int_equal(verdict, LDG_DOCTOR_DEGRADED);
    json_decref(d);
    ldg_close(l);
    t_rmrf(dir);
}

/* disk-reported is unknown when no event reported free disk; the doctor
 * measured it (disk-headroom), so it is answered, not unknown. */
static void
test_doctor__measured_disk_answers_disk_reported(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_verify_report vr;
    json_t *d;
    int verdict;
    (void)state;
    assert_int_equal(ldg_projections_attach(l), 0);
    assert_int_equal(ldg_verify(l, 0, 0, &vr, NULL, NULL), 0);
    d = run(l, NULL, 0, &verdict);
    if (strcmp(status(box(d, "disk-headroom")), "ok") == 0) {
        assert_string_equal(status(box(d, "disk-reported")), "ok");
        assert_null(json_object_get(box(d, "disk-reported"), "remedy"));
        assert_int_equal(verdict, LDG_DOCTOR_HEALTHY);
    }
    json_decref(d);
    /* --at: nothing measured for the past, so it stays unknown */
    d = run(l, NULL, 1, &verdict);
    assert_string_equal(status(box(d, "disk-reported")), "unknown");
    json_decref(d);
    ldg_close(l);
    t_rmrf(dir);
}

/* Remedies are commands to paste: they name the signing key with --actor
 * and use capitalised placeholders, never <...> (a shell redirection). */
static void
test_doctor__remedies_are_copy_paste_safe(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    json_t *d, *p, *x, *r;
    int verdict, appends = 0;
    size_t i, j, k;
    (void)state;
    assert_int_equal(ldg_projections_attach(l), 0);
    ingest(l, "examples/pdf-ops.jsonl");
    ingest(l, "examples/scenarios/permissions.jsonl");
    d = run(l, NULL, 0, &verdict);
    json_array_foreach(json_object_get(d, "packs"), i, p)
    {
        json_array_foreach(json_object_get(p, "clauses"), j, x)
        {
            json_array_foreach(json_object_get(x, "remedy"), k, r)
            {
                const char *s = json_string_value(r);
                const char *cmd = strstr(s, "ledger append");
                assert_null(strchr(s, '<'));
                assert_null(strchr(s, '>'));
                if (cmd == NULL)
                    continue;
                appends++;
                /* the command is the whole remedy, not inside a sentence */
                assert_ptr_equal(cmd, s);
                assert_non_null(strstr(s, " --actor KEY "));
            }
        }
    }
    assert_true(appends > 0);
    json_decref(d);
    ldg_close(l);
    t_rmrf(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doctor__pdf_ops_is_degraded),
        cmocka_unit_test(test_doctor__verify_makes_the_chain_clause_hold),
        cmocka_unit_test(
            test_doctor__a_new_event_altered_fails_the_chain_clause),
        cmocka_unit_test(test_doctor__a_blocked_pack_exits_2),
        cmocka_unit_test(
            test_doctor__a_revoked_key_left_on_disk_fails_keys_valid),
        cmocka_unit_test(
            test_doctor__projections_behind_fail_but_answer_is_current),
        cmocka_unit_test(test_doctor__disk_headroom_is_measured),
        cmocka_unit_test(test_doctor__growth_is_measured_over_the_window),
        cmocka_unit_test(test_doctor__bytes_per_event_are_the_stores),
        cmocka_unit_test(test_doctor__days_left_against_keep_days),
        cmocka_unit_test(test_doctor__malformed_policy_fails_headroom),
        cmocka_unit_test(test_doctor__full_advice_names_space_and_prune),
        cmocka_unit_test(test_doctor__another_packs_failure_is_not_this_packs),
        cmocka_unit_test(test_doctor__measured_disk_answers_disk_reported),
        cmocka_unit_test(test_doctor__remedies_are_copy_paste_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
