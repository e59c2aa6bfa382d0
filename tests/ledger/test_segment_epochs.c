/*
 * test_segment_epochs.c — the epoch checks of ledger/segment.c's reader
 * (and so of `verify-bundle` of a segment, the `--bundle` readers and
 * `prune --archive`'s check), as an attacker who holds the box after two
 * epoch advances would try them (issue 65, item 6): with the log key and
 * the current epoch state, a past event re-sealed by the current epoch key
 * or by the log key alone (its epoch part dropped), and the ledger's tree
 * and checkpoints rebuilt, gives a segment that its reader and the
 * prune's check refuse, naming the event and the epoch; the same
 * re-sealing of an event before the anchor (as on a ledger without
 * epochs) gives one that passes both. The fixture is epoch_fx.h's.
 */
#include "tests/ledger/epoch_fx.h"
#include "tests/ledger/segment_stream.h"

#include <fcntl.h>
#include <unistd.h>

/* The segment of first..end-1 against the checkpoint of size ck (0: end)
 * in a temporary file; the fd, at 0. */
static int
segment_fd_ck(struct fx *f, uint64_t first, uint64_t end, uint64_t ck)
{
    struct ldg_segment_write_opts o;
    char path[400];
    int fd, rc;

    snprintf(path, sizeof path, "%s/s.seg", f->dir);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    unlink(path);
    memset(&o, 0, sizeof o);
    o.first = first;
    o.end = end;
    o.checkpoint_size = ck;
    assert_int_equal(ldg_log_secret_load(f->l), 0);
    if ((rc = ldg_segment_write(f->l, &o, fd, NULL)) != 0)
        fail_msg("segment %llu..%llu: %s (%s)", (unsigned long long)first,
                 (unsigned long long)end, ldg_strerror(rc), ldg_errmsg(f->l));
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    return fd;
}

static int
segment_fd(struct fx *f, uint64_t first, uint64_t end)
{
    return segment_fd_ck(f, first, end, 0);
}

/* Seals checked as epoch seals by the last check_both (verify, prune),
 * and whether each checked the checkpoint's epoch line. */
static uint64_t epoch_seals[2];
static int ck_epoch[2];

/* Verifies the segment (with the log's key: verify-bundle), then runs
 * the prune's check on it; both results in r[0], r[1]. */
static void
check_both(struct fx *f, int fd, struct ldg_segment_result r[2], int rc[2])
{
    struct ldg_segment_verify_opts o;
    struct ldg_txn *t;
    char vkey[512];

    assert_int_equal(ldg_verifier_key(f->l, vkey, sizeof vkey), 0);
    memset(&o, 0, sizeof o);
    o.trusted_vkey = vkey;
    rc[0] = ldg_segment_verify_fd(fd, &o, &r[0]);
    epoch_seals[0] = r[0].info.epoch_seals;
    ck_epoch[0] = r[0].info.ck_epoch;
    ldg_segment_info_release(&r[0].info);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    rc[1] = ldg_segment_check(t, fd, NULL, &r[1]);
    epoch_seals[1] = r[1].info.epoch_seals;
    ck_epoch[1] = r[1].info.ck_epoch;
    ldg_segment_info_release(&r[1].info);
    ldg_txn_abort(t);
    close(fd);
}

static void
expect_refused(struct ldg_segment_result r[2], const int rc[2], uint64_t seq,
               const char *w1, const char *w2)
{
    for (int i = 0; i < 2; i++) {
        if (rc[i] != LDG_ETAMPER || r[i].failed != LDG_SEGCHK_SEALS ||
            r[i].bad_seq != seq || strstr(r[i].what, w1) == NULL ||
            strstr(r[i].what, w2) == NULL)
            fail_msg("%s: rc %d, %s at %llu: %s (expected seals at %llu: "
                     "'%s', '%s')",
                     i ? "the prune's check" : "verify", rc[i],
                     ldg_segment_check_name(r[i].failed),
                     (unsigned long long)r[i].bad_seq, r[i].what,
                     (unsigned long long)seq, w1, w2);
    }
}

static void
expect_ok(struct ldg_segment_result r[2], const int rc[2])
{
    for (int i = 0; i < 2; i++)
        if (rc[i] != 0)
            fail_msg("%s: rc %d, %s at %llu: %s",
                     i ? "the prune's check" : "verify", rc[i],
                     ldg_segment_check_name(r[i].failed),
                     (unsigned long long)r[i].bad_seq, r[i].what);
}

/* The whole log, and ranges that begin after the anchor (the anchor
 * proven, the first seal's epoch part whole) or inside an epoch. */
static void
test_segment_epochs__genuine_segments_pass(void **state)
{
    struct fx *f = *state;
    struct ldg_segment_result r[2];
    int rc[2];
    /* range, and how many of its seals (and proven events' seals) are
     * by epoch keys: events 4..8 each have one; 1..3 none */
    static const uint64_t range[][3] = {{0, 9, 5}, {4, 9, 5}, {5, 7, 2},
                                        {6, 9, 3}, {8, 9, 1}, {1, 4, 0}};

    for (size_t i = 0; i < sizeof range / sizeof range[0]; i++) {
        check_both(f, segment_fd(f, range[i][0], range[i][1]), r, rc);
        expect_ok(r, rc);
        assert_int_equal(epoch_seals[0], range[i][2]);
        assert_int_equal(epoch_seals[1], range[i][2]);
        /* the checkpoint's epoch line, whole, checked from the anchor */
        assert_int_equal(ck_epoch[0], range[i][2] > 0);
        assert_int_equal(ck_epoch[1], range[i][2] > 0);
    }
}

/* The segment's checkpoint signed again by the log key alone (its epoch
 * line dropped: what a stock signer makes) is refused once the range's
 * seals by the log key are under epoch keys; one whose epoch line has a
 * forged signature is refused, naming the epoch. */
static void
test_segment_epochs__checkpoint_without_epoch_line_refused(void **state)
{
    struct fx *f = *state;
    struct ldg_segment_result r[2];
    int rc[2];

    resign_checkpoint(f, 9, CK_LOG_KEY_ONLY, 0, 0);
    check_both(f, segment_fd(f, 4, 9), r, rc);
    expect_refused(r, rc, UINT64_MAX,
                   "checkpoint of size 9 carries no signature by an epoch key",
                   "(epoch 2.1 in the segment): signed again by the log key "
                   "alone?");
}

static void
test_segment_epochs__checkpoint_epoch_signature_forged_refused(void **state)
{
    struct fx *f = *state;
    struct ldg_segment_result r[2];
    int rc[2];

    resign_checkpoint(f, 7, CK_FORGED_SIG, 0, 0);
    check_both(f, segment_fd(f, 6, 7), r, rc);
    expect_refused(r, rc, UINT64_MAX, "the checkpoint of size 7",
                   "does not verify with the key of epoch 0.1");
}

/* The control: event 2, before the anchor, changed and re-sealed with the
 * log key alone passes, as an event of a ledger without epochs would. */
static void
test_segment_epochs__before_the_anchor_resignable(void **state)
{
    struct fx *f = *state;
    struct ldg_segment_result r[2];
    uint8_t root[32];
    int rc[2];

    rewrite_time(f, 2, root);
    reseal(f, 2, root, NO_EPOCH);
    rechain(f, 2);
    check_both(f, segment_fd(f, 0, 9), r, rc);
    expect_ok(r, rc);
}

static void
test_segment_epochs__resealed_by_current_epoch_refused(void **state)
{
    struct fx *f = *state;
    struct ldg_segment_result r[2];
    uint8_t root[32];
    int rc[2];

    rewrite_time(f, 4, root);
    reseal(f, 4, root, BY_CURRENT);
    rechain(f, 4);
    check_both(f, segment_fd(f, 4, 5), r, rc);
    expect_refused(r, rc, 4, "epoch 2.1", "before the start");
}

static void
test_segment_epochs__resealed_without_epoch_refused(void **state)
{
    struct fx *f = *state;
    struct ldg_segment_result r[2];
    uint8_t root[32];
    int rc[2];

    rewrite_time(f, 6, root);
    reseal(f, 6, root, NO_EPOCH);
    rechain(f, 6);
    check_both(f, segment_fd(f, 6, 7), r, rc);
    expect_refused(r, rc, 6, "(period 0)", "carries no epoch");
    /* and in a range that holds the key's earlier epoch seals */
    check_both(f, segment_fd(f, 0, 9), r, rc);
    expect_refused(r, rc, 6, "(period 0)", "carries no epoch");
}

static void
test_segment_epochs__past_epoch_signature_forged_refused(void **state)
{
    struct fx *f = *state;
    struct ldg_segment_result r[2];
    uint8_t root[32];
    int rc[2];

    rewrite_time(f, 5, root);
    reseal(f, 5, root, OLD_EPOCH_FORGED_SIG);
    rechain(f, 5);
    check_both(f, segment_fd(f, 0, 9), r, rc);
    expect_refused(r, rc, 5, "does not verify with the key of epoch 0.0",
                   "epoch signature");
}

/* A segment of a ledger pruned past the anchor (issue 65, item 6): the
 * horizon record it carries keeps the anchor, so its seals are checked
 * from it (a build before this one counted them "not checked" and took
 * the forgery below). */
static void
test_segment_epochs__pruned_ledger_checked(void **state)
{
    struct fx *f = *state;
    struct ldg_segment_result r[2];
    uint8_t root[32];
    int rc[2];

    prune_at(f, 6);
    check_both(f, segment_fd(f, 6, 9), r, rc);
    expect_ok(r, rc);
    assert_int_equal(epoch_seals[0], 3);
    assert_int_equal(epoch_seals[1], 3);
    check_both(f, segment_fd(f, 8, 9), r, rc);
    expect_ok(r, rc);
    assert_int_equal(epoch_seals[0], 1);
    rewrite_time(f, 7, root);
    reseal(f, 7, root, NO_EPOCH);
    rechain(f, 7);
    check_both(f, segment_fd(f, 6, 9), r, rc);
    expect_refused(r, rc, 7, "(period 2)", "carries no epoch");
}

/* The segment's bytes (first..end-1) in memory; *len. */
static uint8_t *
segment_bytes(struct fx *f, uint64_t first, uint64_t end, size_t *len)
{
    int fd = segment_fd(f, first, end);
    off_t n = lseek(fd, 0, SEEK_END);
    uint8_t *p = malloc((size_t)n);
    assert_true(n > 0 && p != NULL);
    assert_int_equal(pread(fd, p, (size_t)n, 0), n);
    close(fd);
    *len = (size_t)n;
    return p;
}

/* parts with the record at index `from` moved to `to` (or dropped when
 * to < 0, copied there too when dup), composed and verified with the
 * log's key: the result's rc and r. */
static int
verify_edited(struct fx *f, struct part *parts, size_t np, long from, long to,
              int dup, struct ldg_segment_result *r)
{
    struct part out[512];
    struct ldg_segment_verify_opts o;
    char vkey[512];
    size_t no = 0, blen;
    uint8_t *bad;
    int rc;

    for (long i = 0; i < (long)np; i++) {
        if (i == to)
            out[no++] = parts[from];
        if (i != from || dup)
            out[no++] = parts[i];
    }
    bad = compose(out, no, &blen);
    assert_int_equal(ldg_verifier_key(f->l, vkey, sizeof vkey), 0);
    memset(&o, 0, sizeof o);
    o.trusted_vkey = vkey;
    rc = ldg_segment_verify_mem(bad, blen, &o, r);
    ldg_segment_info_release(&r->info);
    free(bad);
    return rc;
}

static void
edited_refused(struct fx *f, struct part *parts, size_t np, long from,
               long to, int dup, enum ldg_segment_check check,
               const char *word)
{
    struct ldg_segment_result r;
    int rc = verify_edited(f, parts, np, from, to, dup, &r);
    if (rc >= 0 || r.ok || r.failed != check || strstr(r.what, word) == NULL)
        fail_msg("record %ld moved to %ld%s: rc %d, %s: %s (expected %s: "
                 "'%s')",
                 from, to, dup ? " (copied)" : "", rc,
                 ldg_segment_check_name(r.failed), r.what,
                 ldg_segment_check_name(check), word);
}

/* The CHECKPOINT_EPOCH record (FORMAT.md 11.1): right after the
 * checkpoint, at most once; moved, doubled, dropped or with a byte
 * flipped, the segment is refused, naming the record or the epoch. */
static void
test_segment_epochs__checkpoint_epoch_record_held_to_its_place(void **state)
{
    struct fx *f = *state;
    struct ldg_segment_result r;
    struct stream st;
    struct part parts[512];
    size_t len, np;
    uint8_t *seg = segment_bytes(f, 4, 9, &len);
    long ck, ce, tr;

    decompress(seg, len, &st);
    np = parts_of(&st, parts);
    ck = first_of(parts, np, 0x04);
    ce = first_of(parts, np, 0x0e);
    tr = first_of(parts, np, 0x0d);
    assert_true(ck > 0 && ce == ck + 1 && tr > ce);
    /* as written: passes */
    assert_int_equal(verify_edited(f, parts, np, -1, -1, 0, &r), 0);
    /* before its checkpoint, a record later, twice, before the trailer
     * (where the range's end finds the checkpoint's line missing) */
    edited_refused(f, parts, np, ce, ck, 0, LDG_SEGCHK_CONTAINER,
                   "a checkpoint epoch record (kind 0x0e)");
    edited_refused(f, parts, np, ce, ce + 2, 0, LDG_SEGCHK_CONTAINER,
                   "not right after its checkpoint");
    edited_refused(f, parts, np, ce, tr, 0, LDG_SEGCHK_SEALS,
                   "whole epoch line is malformed or missing");
    edited_refused(f, parts, np, ce, ce, 1, LDG_SEGCHK_CONTAINER,
                   "not right after its checkpoint");
    /* dropped: the checkpoint's line cannot be checked whole */
    edited_refused(f, parts, np, ce, -1, 0, LDG_SEGCHK_SEALS,
                   "whole epoch line is malformed or missing");
    /* a byte flipped at its start, middle and end */
    for (int k = 0; k < 3; k++) {
        size_t at[3] = {0, parts[ce].n / 2, parts[ce].n - 2};
        uint8_t *b = (uint8_t *)(uintptr_t)parts[ce].p + at[k];
        int rc;
        *b ^= 0x01;
        rc = verify_edited(f, parts, np, -1, -1, 0, &r);
        *b ^= 0x01;
        if (rc != LDG_ETAMPER || r.failed != LDG_SEGCHK_SEALS)
            fail_msg("byte %zu of the checkpoint's epoch line flipped: rc "
                     "%d, %s: %s",
                     at[k], rc, ldg_segment_check_name(r.failed), r.what);
    }
    free(st.p);
    free(seg);
}

/* Events 1..2 (before the anchor) against the checkpoint of size 9: the
 * segment holds no anchor of the log key, so its checkpoint's epoch line
 * is checked from the caller's pin (a forged one refused), and said not
 * checked without one. */
static void
test_segment_epochs__checkpoint_line_checked_from_a_pin(void **state)
{
    struct fx *f = *state;
    struct ldg_segment_verify_opts o;
    struct ldg_segment_result r;
    struct ldg_anchor_pin *pins = NULL;
    size_t npins = 0;
    char vkey[512];
    int fd;

    assert_int_equal(ldg_keys_anchors(f->l, &pins, &npins), 0);
    assert_true(npins == 1);
    assert_int_equal(ldg_verifier_key(f->l, vkey, sizeof vkey), 0);
    memset(&o, 0, sizeof o);
    o.trusted_vkey = vkey;
    fd = segment_fd_ck(f, 1, 3, 9);
    assert_int_equal(ldg_segment_verify_fd(fd, &o, &r), 0);
    assert_int_equal(r.info.ck_epoch, -1);
    assert_int_equal(r.info.epoch_seals, 0);
    ldg_segment_info_release(&r.info);
    o.anchors = pins;
    o.nanchors = npins;
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    assert_int_equal(ldg_segment_verify_fd(fd, &o, &r), 0);
    assert_int_equal(r.info.ck_epoch, 1);
    assert_int_equal(r.info.ck_period, 2);
    assert_int_equal(r.info.ck_sub, 1);
    ldg_segment_info_release(&r.info);
    close(fd);
    /* forged: its epoch signature changed */
    resign_checkpoint(f, 9, CK_FORGED_SIG, 0, 0);
    fd = segment_fd_ck(f, 1, 3, 9);
    assert_int_equal(ldg_segment_verify_fd(fd, &o, &r), LDG_ETAMPER);
    assert_int_equal(r.failed, LDG_SEGCHK_SEALS);
    assert_non_null(strstr(r.what, "does not verify with the key of epoch 2.1"));
    ldg_segment_info_release(&r.info);
    close(fd);
    free(pins);
}

/* A CHECKPOINT_EPOCH record beside a checkpoint that has no epoch line
 * (events 1..3: the anchor, no seal under an epoch yet) is refused. */
static void
test_segment_epochs__checkpoint_epoch_record_without_line_refused(void **state)
{
    struct fx *f = *state;
    struct stream st, st2;
    struct part parts[512], other[512];
    size_t len, len2, np, np2;
    uint8_t *seg = segment_bytes(f, 1, 4, &len);
    uint8_t *seg2 = segment_bytes(f, 4, 9, &len2);
    long ck, ce;

    decompress(seg, len, &st);
    np = parts_of(&st, parts);
    decompress(seg2, len2, &st2);
    np2 = parts_of(&st2, other);
    assert_true(first_of(parts, np, 0x0e) < 0);
    ck = first_of(parts, np, 0x04);
    ce = first_of(other, np2, 0x0e);
    assert_true(ck > 0 && ce > 0);
    /* the other segment's record, right after this one's checkpoint */
    memmove(&parts[ck + 2], &parts[ck + 1], (np - ck - 1) * sizeof parts[0]);
    parts[ck + 1] = other[ce];
    edited_refused(f, parts, np + 1, -1, -1, 0, LDG_SEGCHK_SEALS,
                   "a checkpoint epoch record, but the checkpoint of size 4 "
                   "carries no epoch line");
    free(st.p);
    free(st2.p);
    free(seg);
    free(seg2);
}

#define TE(name) cmocka_unit_test_setup_teardown(name, setup_epochs, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        TE(test_segment_epochs__genuine_segments_pass),
        TE(test_segment_epochs__before_the_anchor_resignable),
        TE(test_segment_epochs__resealed_by_current_epoch_refused),
        TE(test_segment_epochs__resealed_without_epoch_refused),
        TE(test_segment_epochs__past_epoch_signature_forged_refused),
        TE(test_segment_epochs__checkpoint_without_epoch_line_refused),
        TE(test_segment_epochs__checkpoint_epoch_signature_forged_refused),
        TE(test_segment_epochs__checkpoint_epoch_record_held_to_its_place),
        TE(test_segment_epochs__checkpoint_line_checked_from_a_pin),
        TE(test_segment_epochs__checkpoint_epoch_record_without_line_refused),
        TE(test_segment_epochs__pruned_ledger_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
