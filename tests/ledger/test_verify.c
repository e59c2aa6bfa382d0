/*
 * test_verify.c — ledger/verify.c, the verification's run: a clean log
 * passes and saves its position, it reads ahead while it runs, a finding
 * stands until a full verification passes, a read-only verification
 * records nothing until asked. The tampering each part catches is tested
 * in test_verify_chain.c, _bodies.c, _keys.c, _indexes.c and _seals.c.
 *
 * Each case builds a fresh ledger of 40 events (keys, a run, bodies),
 * tampers with the stored bytes through the raw KV API, and checks the
 * report.
 */
#include "tests/ledger/verify_fx.h"

static void
test_verify__clean_log_passes_and_saves_position(void **state)
{
    struct fx *f = *state;
    struct ldg_verify_report r;
    assert_int_equal(ldg_verify(f->l, 0, 0, &r, NULL, NULL), 0);
    assert_int_equal(r.to, 40);
    assert_int_equal(r.from, 1); /* init verified the genesis */
    t_append(f->l, "x.test.more", "{}", NULL);
    assert_int_equal(ldg_verify(f->l, 0, 0, &r, NULL, NULL), 0);
    assert_int_equal(r.from, 40); /* only the new event */
    assert_int_equal(r.checked, 1);
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL, 0, &r, NULL, NULL), 0);
    assert_int_equal(r.checked, 41);
    assert_true(r.checkpoints >= 40);
}

/* The VmFlags of this process's mapping of dir/data.mdb, or "" (as
 * test_store.c reads them). */
static void
map_flags(const char *dir, char *out, size_t cap)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[4096], want[600];
    int in = 0;
    out[0] = '\0';
    if (f == NULL)
        return;
    snprintf(want, sizeof want, "%s/data.mdb", dir);
    while (fgets(line, sizeof line, f) != NULL) {
        const char *dash = strchr(line, '-'), *sp = strchr(line, ' ');
        if (isxdigit((unsigned char)line[0]) && dash != NULL && sp != NULL &&
            dash < sp)
            in = strstr(line, want) != NULL;
        if (in && strncmp(line, "VmFlags:", 8) == 0) {
            size_t n = strnlen(line + 8, cap - 1);
            memcpy(out, line + 8, n);
            out[n] = '\0';
            break;
        }
    }
    fclose(f);
}

struct seen_flags {
    const char *dir;
    char during[512];
};

static void
note_flags(void *ctx, uint64_t done, uint64_t total)
{
    struct seen_flags *s = ctx;
    (void)done;
    (void)total;
    if (s->during[0] == '\0')
        map_flags(s->dir, s->during, sizeof s->during);
}

/* verify reads nearly all of data.mdb: the kernel reads ahead while it
 * runs (a cold page cache otherwise costs a disk read per page), and the
 * map is random access again afterwards. */
static void
test_verify__reads_ahead_while_it_runs(void **state)
{
    struct fx *f = *state;
    struct ldg_verify_report r;
    struct seen_flags s;
    char after[512];

    memset(&s, 0, sizeof s);
    s.dir = f->dir;
    map_flags(f->dir, after, sizeof after);
    if (after[0] == '\0')
        skip(); /* no smaps (not Linux): the hint is a no-op */
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0,
                                &r, note_flags, &s),
                     0);
    map_flags(f->dir, after, sizeof after);
    if (strstr(s.during, " sr") == NULL || strstr(s.during, " rr") != NULL)
        fail_msg("during verify, VmFlags:%s", s.during);
    if (strstr(after, " rr") == NULL || strstr(after, " sr") != NULL)
        fail_msg("after verify, VmFlags:%s", after);
}

/* Verification remembers what it found: after a failed full verification,
 * a plain one fails too (even with nothing new, or only good new events),
 * until a full verification passes again. */
static void
test_verify__a_finding_stands_until_a_full_verification_passes(void **state)
{
    struct fx *f = *state;
    struct ldg_verify_report r;
    struct ldg_verify_state st;
    uint8_t buf[4096], orig[4096];
    uint64_t clock = 1700000000000000000ull;
    size_t n;

    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL, 0, &r, NULL, NULL), 0);
    assert_true(r.full);
    assert_true(r.recorded);
    assert_int_equal(ldg_verify_state(f->l, &st), 0);
    assert_int_equal(st.verified_size, 40);
    assert_int_equal(st.full_size, 40);
    assert_true(st.full_ts_ns != 0);
    assert_false(st.finding);

    n = t_raw_get(f->l, "bodies", 12, buf, sizeof buf);
    memcpy(orig, buf, n);
    buf[n - 1] ^= 0x01;
    t_raw_put(f->l, "bodies", 12, buf, n);
    ldg_set_clock(f->l, &clock);
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL, 0, &r, NULL, NULL),
                     LDG_ETAMPER);
    assert_int_equal(r.bad_seq, 12);
    assert_true(r.recorded);
    assert_int_equal(ldg_verify_state(f->l, &st), 0);
    assert_true(st.finding);
    assert_int_equal(st.finding_seq, 12);
    assert_int_equal(st.finding_ts_ns, clock);
    assert_non_null(strstr(st.finding_what, "event 12"));
    ldg_set_clock(f->l, NULL);

    /* repaired, but only a full verification may say so: plain verify,
     * with nothing new, fails with the standing finding */
    t_raw_put(f->l, "bodies", 12, orig, n);
    assert_int_equal(ldg_verify(f->l, 0, 0, &r, NULL, NULL), LDG_ETAMPER);
    assert_true(r.finding_stands);
    assert_int_equal(r.bad_seq, 12);
    assert_int_equal(r.found_ts_ns, clock);
    assert_int_equal(r.checked, 0);
    /* good new events do not clear it either */
    t_append(f->l, "x.test.more", "{}", NULL);
    assert_int_equal(ldg_verify(f->l, 0, 0, &r, NULL, NULL), LDG_ETAMPER);
    assert_true(r.finding_stands);
    /* nor does a run from an explicit start after the bad event */
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL, 20, &r, NULL, NULL),
                     LDG_ETAMPER);
    assert_true(r.finding_stands);
    /* a full verification passes and clears it */
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL, 0, &r, NULL, NULL), 0);
    assert_int_equal(ldg_verify_state(f->l, &st), 0);
    assert_false(st.finding);
    assert_int_equal(st.full_size, 41);
    assert_int_equal(ldg_verify(f->l, 0, 0, &r, NULL, NULL), 0);
}

/* A lower finding is kept over a later one (it names the first bad event);
 * NOSAVE and read-only handles record nothing, and ldg_verify_record writes
 * a read-only run's result through a writable handle. */
static void
test_verify__read_only_verify_records_nothing_until_asked(void **state)
{
    struct fx *f = *state;
    struct ldg_verify_report r;
    struct ldg_verify_state st;
    struct ldg_options o;
    struct ldg_ledger *ro = NULL;
    uint8_t buf[4096];
    char err[256];
    size_t n;

    n = t_raw_get(f->l, "bodies", 30, buf, sizeof buf);
    buf[n - 1] ^= 0x01;
    t_raw_put(f->l, "bodies", 30, buf, n);
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0,
                                &r, NULL, NULL),
                     LDG_ETAMPER);
    assert_false(r.recorded);
    assert_int_equal(ldg_verify_state(f->l, &st), 0);
    assert_false(st.finding);
    assert_int_equal(st.verified_size, 1); /* init's, of the genesis */

    memset(&o, 0, sizeof o);
    o.flags = LDG_RDONLY;
    assert_int_equal(ldg_open(&ro, f->dir, &o, err, sizeof err), 0);
    assert_int_equal(ldg_verify(ro, LDG_VERIFY_FULL, 0, &r, NULL, NULL),
                     LDG_ETAMPER);
    assert_int_equal(r.bad_seq, 30);
    assert_false(r.recorded);
    assert_int_equal(ldg_verify_record(ro, &r), LDG_EINVAL);
    ldg_close(ro);
    assert_int_equal(ldg_verify_state(f->l, &st), 0);
    assert_false(st.finding);
    assert_int_equal(ldg_verify_record(f->l, &r), 0);
    assert_int_equal(ldg_verify_state(f->l, &st), 0);
    assert_true(st.finding);
    assert_int_equal(st.finding_seq, 30);

    /* an earlier bad event replaces the finding; a later one does not */
    n = t_raw_get(f->l, "bodies", 8, buf, sizeof buf);
    buf[n - 1] ^= 0x01;
    t_raw_put(f->l, "bodies", 8, buf, n);
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL, 0, &r, NULL, NULL),
                     LDG_ETAMPER);
    assert_int_equal(ldg_verify_state(f->l, &st), 0);
    assert_int_equal(st.finding_seq, 8);
    r.bad_seq = 35;
    assert_int_equal(ldg_verify_record(f->l, &r), 0);
    assert_int_equal(ldg_verify_state(f->l, &st), 0);
    assert_int_equal(st.finding_seq, 8);
}

/* An image of an older layout verifies in full, and takes no append: the
 * remedy is named. */
static void
test_verify__an_image_passes_and_takes_no_append(void **state)
{
    struct fx *f = *state;
    struct ldg_verify_report r;
    uint64_t seq = 0;
    struct ldg_event_in in;
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL, 0, &r, NULL, NULL), 0);
    assert_int_equal(r.to, 600);
    assert_int_equal(ldg_verify(f->l, 0, 0, &r, NULL, NULL), 0);
    assert_int_equal(r.from, 600);
    memset(&in, 0, sizeof in);
    in.type = "x.test.more";
    assert_int_equal(ldg_append(f->l, &in, &seq), LDG_EVERSION);
    assert_non_null(strstr(ldg_errmsg(f->l), "ledger migrate"));
    assert_int_equal(ldg_check_writable(f->l), LDG_EVERSION);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_verify__clean_log_passes_and_saves_position),
        T(test_verify__reads_ahead_while_it_runs),
        T(test_verify__a_finding_stands_until_a_full_verification_passes),
        T(test_verify__read_only_verify_records_nothing_until_asked),
        T1(test_verify__clean_log_passes_and_saves_position),
        /* store layouts 1 and 2: the golden images */
        TL1(test_verify__an_image_passes_and_takes_no_append),
        TL2(test_verify__an_image_passes_and_takes_no_append),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
