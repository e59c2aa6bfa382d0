/*
 * test_intake_log.c — a ledger at store layout 9:
 * every append acknowledged by its intake frame (ledger/intake_log.c,
 * FORMAT.md 12). Each event is seen at once, by the handle that wrote it
 * and by any other, a read-only one included, with its proof against the
 * checkpoint of its frame; LMDB is brought up to date in large
 * transactions past the tail's bound, and by a clean close; ids are idempotent
 * across the unapplied tail; two processes appending at once make one chain; a
 * bulk writer's groups too big for a frame go to LMDB, the tail applied
 * first; an all-or-nothing batch is acked by its frame, and one that
 * outgrows a frame goes on in LMDB; a reader's view is kept for the next
 * reader while it holds; a ledger at layout 8 is converted;
 * the ledger verifies in full after each.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "ledger/intake_log_int.h"
#include "tests/support/support.h"

/* The log's size as LMDB alone holds it (no tail replayed). */
static uint64_t
lmdb_size(struct ldg_ledger *l)
{
    struct ldg_txn *t;
    uint64_t n = 0;
    assert_int_equal(ldg_store_txn_begin(l->store, l, 0, &t), 0);
    assert_int_equal(ldg_txn_size(t, &n), 0);
    ldg_txn_abort(t);
    return n;
}

static uint64_t
size_of(struct ldg_ledger *l)
{
    uint64_t n = 0;
    assert_int_equal(ldg_size(l, &n), 0);
    return n;
}

static void
verify_full(struct ldg_ledger *l)
{
    struct ldg_verify_report rep;
    int rc =
        ldg_verify(l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0, &rep, NULL, NULL);
    if (rc != 0)
        fail_msg("verify: %s (%s)", rep.what, ldg_errmsg(l));
}

static struct ldg_ledger *
open_dir(const char *dir, unsigned flags)
{
    struct ldg_options o;
    struct ldg_ledger *l = NULL;
    char err[512];
    memset(&o, 0, sizeof o);
    o.flags = flags;
    o.map_size_bytes = 64u << 20;
    if (ldg_open(&l, dir, &o, err, sizeof err) != 0)
        fail_msg("open: %s", err);
    return l;
}

/* A child process that appends n events to the ledger in dir, one at a
 * time, and exits 0 (1 if an append failed); with close_it it closes its
 * handle first (which applies the tail), else it leaves the tail as it
 * is. The caller waits for it. */
static pid_t
child_appends(const char *dir, int n, int close_it)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct ldg_ledger *c = open_dir(dir, LDG_NOSYNC);
        for (int i = 0; i < n; i++) {
            struct ldg_event_in in;
            json_t *b = json_pack("{s:i}", "child", i);
            memset(&in, 0, sizeof in);
            in.type = "x.test.event";
            in.body = b;
            if (ldg_append(c, &in, NULL) != 0)
                _exit(1);
            json_decref(b);
        }
        if (close_it)
            ldg_close(c);
        _exit(0);
    }
    return pid;
}

/* seq's proof, checked against the ledger's verifier key. */
static void
proof_holds(struct ldg_ledger *l, uint64_t seq)
{
    struct ldg_txn *t;
    char *proof = NULL, vkey[512], err[256];
    uint8_t whole[LDG_ENTRY_MAX], entry[LDG_ENTRY_MAX];
    const uint8_t *e;
    size_t len;
    uint64_t index = 0;
    assert_int_equal(ldg_verifier_key(l, vkey, sizeof vkey), 0);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_event_entry(t, seq, whole, sizeof whole, &e, &len), 0);
    memcpy(entry, e, len);
    assert_int_equal(ldg_proof_text(t, seq, 0, &proof), 0);
    if (ldg_proof_check(vkey, proof, strlen(proof), entry, len, &index, NULL,
                        NULL, err, sizeof err) != 0)
        fail_msg("proof of %llu: %s", (unsigned long long)seq, err);
    assert_int_equal(index, seq);
    free(proof);
    ldg_txn_abort(t);
}

static void
test_intake_log__acked_events_are_seen_at_once(void **state)
{
    char dir[256];
    struct ldg_ledger *l, *r;
    uint64_t seq;
    (void)state;

    l = t_ledger_new_layout(dir, sizeof dir, 0, 0, 9);
    {
        struct stat st;
        char p[300];
        snprintf(p, sizeof p, "%s/intake", dir);
        assert_int_equal(stat(p, &st), 0);
    }
    r = open_dir(dir, LDG_RDONLY);
    for (int i = 0; i < 20; i++) {
        char body[64];
        snprintf(body, sizeof body, "{\"n\":%d}", i);
        seq = t_append(l, "x.test.event", body, NULL);
        /* seen at once, by this handle and a read-only one, provable */
        assert_int_equal(size_of(l), seq + 1);
        assert_int_equal(size_of(r), seq + 1);
        proof_holds(r, seq);
    }
    /* the acks are in the intake; LMDB is behind them (the tail's bound
     * is not reached) */
    assert_true(lmdb_size(l) < size_of(l));
    verify_full(r);
    /* past the bound, LMDB catches up */
    for (int i = 0; i < 140; i++)
        t_append(l, "x.test.event", "{\"more\":true}", NULL);
    assert_true(lmdb_size(l) >= 128);
    assert_int_equal(size_of(r), size_of(l));
    verify_full(l);
    ldg_close(r);
    /* closed and opened again: nothing acked is lost */
    seq = size_of(l);
    ldg_close(l);
    l = open_dir(dir, LDG_NOSYNC);
    assert_int_equal(size_of(l), seq);
    /* a clean close applied the tail */
    assert_int_equal(lmdb_size(l), seq);
    verify_full(l);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_intake_log__ids_hold_across_the_tail(void **state)
{
    char dir[256];
    struct ldg_ledger *l;
    struct ldg_event_in in;
    uint64_t a = 0, b = 0;
    json_t *body = json_pack("{s:i}", "n", 1);
    (void)state;

    l = t_ledger_new_layout(dir, sizeof dir, 0, 0, 9);
    memset(&in, 0, sizeof in);
    in.type = "x.test.event";
    in.body = body;
    in.id = "once";
    assert_int_equal(ldg_append(l, &in, &a), 0);
    assert_true(lmdb_size(l) <= a); /* still only in the intake */
    assert_int_equal(ldg_append(l, &in, &b), LDG_EDUPLICATE);
    assert_int_equal(a, b);
    assert_int_equal(size_of(l), a + 1);
    json_decref(body);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_intake_log__two_processes_make_one_chain(void **state)
{
    char dir[256];
    struct ldg_ledger *l;
    pid_t pid;
    int status;
    (void)state;

    l = t_ledger_new_layout(dir, sizeof dir, 0, 0, 9);
    pid = child_appends(dir, 150, 1);
    for (int i = 0; i < 150; i++)
        t_append(l, "x.test.event", "{\"parent\":1}", NULL);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(size_of(l), 301);
    verify_full(l);
    ldg_close(l);
    t_rmrf(dir);
}

/* One batch of n events (bodies of pad bytes more than their number),
 * committed: *first gets its first seq. */
static void
batch_run(struct ldg_ledger *l, int n, size_t pad, uint64_t *first)
{
    struct ldg_batch *b;
    char *fill = malloc(pad + 1);
    uint64_t got = 0;

    assert_non_null(fill);
    assert_int_equal(ldg_batch_begin(&b, l), 0);
    for (int i = 0; i < n; i++) {
        struct ldg_event_in in;
        json_t *j;
        memset(fill, 'a' + i % 26, pad);
        fill[pad] = '\0';
        j = json_pack("{s:i, s:s}", "i", i, "pad", fill);
        memset(&in, 0, sizeof in);
        in.type = "x.test.event";
        in.body = j;
        assert_int_equal(ldg_batch_add(b, &in), 0);
        json_decref(j);
    }
    assert_int_equal(ldg_batch_commit(b, first, &got), 0);
    ldg_batch_free(b);
    free(fill);
    assert_int_equal(got, (uint64_t)n);
}

static void
test_intake_log__bulk_and_batches_go_to_lmdb(void **state)
{
    char dir[256];
    struct ldg_ledger *l;
    uint64_t first = 0;
    (void)state;

    l = t_ledger_new_layout(dir, sizeof dir, 0, 0, 9);
    t_append(l, "x.test.event", "{\"a\":1}", NULL); /* a tail first */
    t_append_many(l, 3000);
    assert_int_equal(size_of(l), 3002);
    verify_full(l);
    batch_run(l, 30, 0, &first);
    assert_int_equal(first, 3002);
    /* a batch acked by its frame leaves LMDB behind */
    assert_true(lmdb_size(l) < 3032);
    /* one that outgrows a frame (2,000 events of 1 KB) goes on in LMDB,
     * the tail and what it held so far applied first */
    batch_run(l, 2000, 1023, &first);
    assert_int_equal(first, 3032);
    assert_int_equal(lmdb_size(l), 5032);
    verify_full(l);
    /* after a batch that passed a frame's limit, the handle's next batch
     * begins in LMDB (a server under load makes such groups one after
     * another, and each would store a frame's worth twice); one that
     * stays small sends the next back to a frame */
    for (int i = 0; i < 2; i++) {
        batch_run(l, 1, 0, &first);
        assert_int_equal(first, 5032 + (uint64_t)i);
        assert_int_equal(size_of(l), 5033 + i);
        assert_int_equal(lmdb_size(l), 5033); /* the first in LMDB */
    }
    verify_full(l);
    /* and the intake goes on after them */
    t_append(l, "x.test.event", "{\"after\":1}", NULL);
    assert_int_equal(size_of(l), 5035);
    verify_full(l);
    ldg_close(l);
    t_rmrf(dir);
}

/* ledger.h: a batch holds the write lock "until commit or free". At
 * layout 9 the intake's lock was let go only at ldg_batch_free, so a
 * caller that committed and appended again before freeing waited for
 * ever (bench/epoch_cost, which never freed its batches, hung). */
static void
test_intake_log__a_committed_batch_lets_the_lock_go(void **state)
{
    char dir[256];
    struct ldg_ledger *l;
    struct ldg_batch *b;
    struct ldg_event_in in;
    json_t *j = json_pack("{s:i}", "batch", 1);
    (void)state;

    l = t_ledger_new_layout(dir, sizeof dir, 0, 0, 9);
    memset(&in, 0, sizeof in);
    in.type = "x.test.event";
    in.body = j;
    assert_int_equal(ldg_batch_begin(&b, l), 0);
    assert_int_equal(ldg_batch_add(b, &in), 0);
    assert_int_equal(ldg_batch_commit(b, NULL, NULL), 0);
    json_decref(j);
    alarm(60); /* (before: no answer) */
    t_append(l, "x.test.event", "{\"after\":1}", NULL);
    alarm(0);
    ldg_batch_free(b);
    assert_int_equal(size_of(l), 3);
    verify_full(l);
    ldg_close(l);
    t_rmrf(dir);
}

/* The intake a conversion makes is as readable as data.mdb: a system
 * ledger's group (data.mdb 0640) reads its tail too; 0600 stays 0600. */
static unsigned
mode_of(const char *dir, const char *name)
{
    char p[600];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    assert_int_equal(stat(p, &st), 0);
    return (unsigned)(st.st_mode & 07777);
}

static void
test_intake_log__layout_8_is_converted(void **state)
{
    char dir[256], p[600];
    struct ldg_ledger *l;
    struct ldg_migrate_result res;
    (void)state;

    l = t_ledger_new_layout(dir, sizeof dir, 0, 0, 8);
    for (int i = 0; i < 10; i++)
        t_append(l, "x.test.event", "{\"before\":1}", NULL);
    snprintf(p, sizeof p, "%s/data.mdb", dir);
    assert_int_equal(chmod(p, 0640), 0);
    assert_int_equal(ldg_migrate(l, 9, NULL, NULL, &res), 0);
    assert_int_equal(res.to, 9);
    assert_int_equal(mode_of(dir, "intake"), 0640);
    for (int i = 0; i < 10; i++)
        t_append(l, "x.test.event", "{\"after\":1}", NULL);
    assert_int_equal(size_of(l), 21);
    assert_int_equal(lmdb_size(l), 11); /* the ten after are in the intake */
    verify_full(l);
    /* never back */
    assert_int_equal(ldg_migrate(l, 8, NULL, NULL, &res), LDG_EINVAL);
    ldg_close(l);
    l = open_dir(dir, LDG_NOSYNC);
    assert_int_equal(size_of(l), 21);
    ldg_close(l);
    t_rmrf(dir);
    /* a ledger of its own (0600): its intake the same */
    l = t_ledger_new_layout(dir, sizeof dir, 0, 0, 9);
    assert_int_equal(mode_of(dir, "data.mdb"), 0600);
    assert_int_equal(mode_of(dir, "intake"), 0600);
    ldg_close(l);
    t_rmrf(dir);
}

/* A map that cannot grow: the tail stays in the intake when it cannot be
 * applied, new events are refused with LDG_EFULL once the ring has no
 * room, and every acknowledged event is there after a reopen with room. */
static void
test_intake_log__a_full_map_loses_nothing(void **state)
{
    char dir[256], err[512];
    struct ldg_ledger *l;
    struct ldg_options o;
    uint64_t acked = 0, seq;
    int rc = 0, i;
    char pad[2001];
    (void)state;

    l = t_ledger_new_layout(dir, sizeof dir, 0, 0, 9);
    ldg_close(l);
    memset(&o, 0, sizeof o);
    o.flags = LDG_NOSYNC;
    o.map_size_bytes = 1u << 20;
    o.map_max_bytes = 1u << 20;
    if (ldg_open(&l, dir, &o, err, sizeof err) != 0)
        fail_msg("open: %s", err);
    memset(pad, 'x', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    for (i = 0; i < 20000; i++) {
        struct ldg_event_in in;
        json_t *j = json_pack("{s:i, s:s}", "n", i, "pad", pad);
        memset(&in, 0, sizeof in);
        in.type = "x.test.event";
        in.body = j;
        rc = ldg_append(l, &in, &seq);
        json_decref(j);
        if (rc != 0)
            break;
        acked = seq + 1;
    }
    assert_int_equal(rc, LDG_EFULL);
    assert_true(acked > 64);
    /* what was acked is all there, some of it only in the intake */
    assert_int_equal(size_of(l), acked);
    assert_true(lmdb_size(l) < acked);
    ldg_close(l);
    l = open_dir(dir, LDG_NOSYNC);
    assert_int_equal(size_of(l), acked);
    t_append(l, "x.test.event", "{\"after\":1}", NULL);
    assert_int_equal(size_of(l), acked + 1);
    verify_full(l);
    ldg_close(l);
    t_rmrf(dir);
}

/* A full map meets a batch that began in LMDB (its last passed a
 * frame's limit): it is refused whole, saying so, and the next batch,
 * small, is acked by a frame as before. */
static void
test_intake_log__a_full_map_after_a_big_batch(void **state)
{
    char dir[256], err[512];
    struct ldg_ledger *l;
    struct ldg_options o;
    uint64_t first = 0, size, x = 1;
    int full = 0;
    (void)state;

    l = t_ledger_new_layout(dir, sizeof dir, 0, 0, 9);
    ldg_close(l);
    memset(&o, 0, sizeof o);
    o.flags = LDG_NOSYNC;
    o.map_size_bytes = 1u << 20;
    o.map_max_bytes = 1u << 20;
    if (ldg_open(&l, dir, &o, err, sizeof err) != 0)
        fail_msg("open: %s", err);
    for (int round = 0; round < 100 && !full; round++) {
        struct ldg_batch *b;
        uint64_t got = 0;
        int rc = 0;
        size = size_of(l);
        assert_int_equal(ldg_batch_begin(&b, l), 0);
        for (int i = 0; i < 100 && rc == 0; i++) {
            char pad[1001];
            struct ldg_event_in in;
            json_t *j;
            for (size_t k = 0; k < sizeof pad - 1; k++) { /* (no repeats) */
                x = x * 6364136223846793005u + 1442695040888963407u;
                pad[k] = (char)('a' + (x >> 59) % 26);
            }
            pad[sizeof pad - 1] = '\0';
            j = json_pack("{s:i, s:i, s:s}", "r", round, "i", i, "pad", pad);
            memset(&in, 0, sizeof in);
            in.type = "x.test.event";
            in.body = j;
            rc = ldg_batch_add(b, &in);
            json_decref(j);
        }
        if (rc == 0)
            rc = ldg_batch_commit(b, &first, &got);
        ldg_batch_free(b);
        if (rc != 0) {
            assert_int_equal(rc, LDG_EFULL);
            assert_non_null(strstr(ldg_errmsg(l), "nothing of the batch"));
            assert_int_equal(size_of(l), size); /* none of it */
            full = 1;
        }
    }
    assert_true(full);
    batch_run(l, 1, 0, &first);
    assert_int_equal(first, size);
    assert_int_equal(size_of(l), size + 1);
    assert_int_equal(lmdb_size(l), size); /* in a frame, not LMDB */
    ldg_close(l);
    l = open_dir(dir, LDG_NOSYNC);
    assert_int_equal(size_of(l), size + 1);
    ldg_close(l);
    t_rmrf(dir);
}

/* A damaged frame in the middle of the tail: a reader stops before it
 * (the log ends there), and verify --full names the acknowledged frames
 * cut off past it. */
static void
test_intake_log__verify_names_frames_cut_off(void **state)
{
    char dir[256], path[300];
    struct ldg_ledger *l;
    struct ldg_verify_report rep;
    uint64_t cut = 0;
    int fd, rc;
    (void)state;

    l = t_ledger_new_layout(dir, sizeof dir, 0, 0, 9);
    for (int i = 0; i < 10; i++)
        t_append(l, "x.test.event", "{\"n\":1}", NULL);
    assert_true(lmdb_size(l) <= 1); /* all in the intake */
    assert_int_equal(
        ldg_verify(l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0, &rep, NULL, NULL),
        0);
    /* (the writer stays open: a clean close would apply the tail) */
    /* flip a byte of the payload of the frame of event 5 */
    snprintf(path, sizeof path, "%s/intake", dir);
    fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    for (uint64_t b = 1; b < 64; b++) {
        uint8_t h[64];
        assert_int_equal(pread(fd, h, sizeof h, (off_t)(b * 4096)), 64);
        if (memcmp(h, "LDGF", 4) == 0 && ldg_rd_be64(h + 16) == 5) {
            uint8_t c;
            assert_int_equal(pread(fd, &c, 1, (off_t)(b * 4096 + 100)), 1);
            c ^= 0x40;
            assert_int_equal(pwrite(fd, &c, 1, (off_t)(b * 4096 + 100)), 1);
            cut = b;
            break;
        }
    }
    close(fd);
    assert_true(cut > 0);
    {
        struct ldg_ledger *r = open_dir(dir, LDG_NOSYNC | LDG_RDONLY);
        assert_int_equal(size_of(r), 5); /* the log ends before it */
        rc = ldg_verify(r, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0, &rep, NULL,
                        NULL);
        assert_int_equal(rc, LDG_ETAMPER);
        assert_int_equal(rep.bad_seq, 5);
        assert_non_null(strstr(rep.what, "intake log is damaged"));
        ldg_close(r);
    }
    ldg_close(l);
    t_rmrf(dir);
}

/* A writer's next group after its own frame, when another process wrote
 * frames after it and the first of them was damaged at byte `at` of its
 * block (in its payload, or in its header: the frame then no longer looks
 * like one), or its first block came back as zeros (at 0: as a block
 * never written): the writer's kept view ends at its own frame, and it
 * still finds the acknowledged frame past the damage and writes nothing
 * over either. (A shortcut that compared only the bytes where a next
 * frame would start, as they were after its own write, missed the last:
 * zeros there were zeros before.) */
static void
damage_after_own_frame(size_t at)
{
    char dir[256], path[300];
    struct ldg_ledger *l;
    uint8_t before[8 * 4096], after[8 * 4096];
    pid_t pid;
    int status, fd, flipped = 0;

    l = t_ledger_new_layout(dir, sizeof dir, 0, 0, 9);
    for (int i = 0; i < 3; i++)
        t_append(l, "x.test.event", "{\"n\":1}", NULL);
    /* events 4 and 5, a frame each; no close: the tail stays */
    pid = child_appends(dir, 2, 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    snprintf(path, sizeof path, "%s/intake", dir);
    fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    for (uint64_t b = 1; b < 64 && !flipped; b++) {
        uint8_t h[64], c;
        assert_int_equal(pread(fd, h, sizeof h, (off_t)(b * 4096)), 64);
        if (memcmp(h, "LDGF", 4) != 0 || ldg_rd_be64(h + 16) != 4)
            continue;
        if (at == 0) {
            static const uint8_t zeros[4096];
            assert_int_equal(pwrite(fd, zeros, sizeof zeros, (off_t)(b * 4096)),
                             4096);
        } else {
            assert_int_equal(pread(fd, &c, 1, (off_t)(b * 4096 + at)), 1);
            c ^= 0x40;
            assert_int_equal(pwrite(fd, &c, 1, (off_t)(b * 4096 + at)), 1);
        }
        flipped = 1;
    }
    assert_true(flipped);
    assert_int_equal(pread(fd, before, sizeof before, 0), sizeof before);
    {
        struct ldg_event_in in;
        json_t *b = json_pack("{s:i}", "after", 1);
        memset(&in, 0, sizeof in);
        in.type = "x.test.event";
        in.body = b;
        assert_int_equal(ldg_append(l, &in, NULL), LDG_ECORRUPT);
        assert_non_null(strstr(ldg_errmsg(l), "intake log is damaged"));
        assert_non_null(strstr(ldg_errmsg(l), "events 5..5"));
        json_decref(b);
    }
    assert_int_equal(pread(fd, after, sizeof after, 0), sizeof after);
    assert_memory_equal(before, after, sizeof before);
    close(fd);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_intake_log__a_writer_sees_damage_after_its_own_frame(void **state)
{
    (void)state;
    damage_after_own_frame(100); /* the payload */
    damage_after_own_frame(23);  /* the header's first seq */
    damage_after_own_frame(0);   /* the whole first block zeroed */
}

/* Readers in another process while the tail is applied and the ring
 * laps (3,000 frames in a ring of 2,047 blocks): each read transaction
 * sees a log that only grows, with every event up to its size there and
 * each event the same bytes every time it is read: no gap, no event twice
 * or changed. The writer waits for a read after each 100 appends, so the
 * reads interleave with the appends whatever the two processes' speeds
 * (before: it asked for more than 10 reads, a race the writer won on a
 * fast box). */
static void
test_intake_log__readers_see_no_gap_while_applied(void **state)
{
    char dir[256];
    struct ldg_ledger *l;
    pid_t pid;
    int status, go[2], did[2];
    (void)state;

    l = t_ledger_new_layout(dir, sizeof dir, 0, 0, 9);
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(did), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct ldg_ledger *r = open_dir(dir, LDG_RDONLY);
        uint8_t(*leaf)[32] = calloc(4000, 32);
        uint64_t seen = 0, reads = 0;
        char c;
        close(go[1]);
        close(did[0]);
        signal(SIGPIPE, SIG_IGN); /* (the writer closes its end first) */
        if (fcntl(did[1], F_SETFL, fcntl(did[1], F_GETFL) | O_NONBLOCK) != 0)
            _exit(2);
        if (leaf == NULL ||
            fcntl(go[0], F_SETFL, fcntl(go[0], F_GETFL) | O_NONBLOCK) != 0)
            _exit(2);
        for (;;) {
            struct ldg_txn *t;
            uint64_t n = 0;
            int done = read(go[0], &c, 1) == 0;
            if (ldg_txn_begin(r, LDG_TXN_READ, &t) != 0 ||
                ldg_txn_size(t, &n) != 0)
                _exit(3);
            if (n < seen || n > 4000)
                _exit(4); /* the log shrank */
            /* every event up to the size, each the same bytes as when
             * first read (its leaf hash) */
            for (uint64_t s = seen > 8 ? seen - 8 : 0; s < n; s++) {
                struct ldg_event ev;
                if (ldg_event_get(t, s, &ev) != 0)
                    _exit(5); /* a gap */
                if (s < seen && memcmp(leaf[s], ev.leaf, 32) != 0)
                    _exit(6); /* changed */
                memcpy(leaf[s], ev.leaf, 32);
            }
            seen = n;
            reads++;
            ldg_txn_abort(t);
            (void)!write(did[1], "r", 1); /* a read done (never blocks: the
                                           * writer drains them) */
            if (done)
                break;
        }
        ldg_close(r);
        _exit(reads > 10 && seen == 3001 ? 0 : 7);
    }
    close(go[0]);
    close(did[1]);
    for (int i = 0; i < 3000; i++) {
        char body[64];
        snprintf(body, sizeof body, "{\"i\":%d}", i);
        t_append(l, "x.test.event", body, NULL);
        if (i % 100 == 99) { /* a read that ends after these appends */
            char buf[512];
            int fl = fcntl(did[0], F_GETFL);
            assert_int_equal(fcntl(did[0], F_SETFL, fl | O_NONBLOCK), 0);
            while (read(did[0], buf, sizeof buf) > 0)
                ;
            assert_int_equal(fcntl(did[0], F_SETFL, fl), 0);
            assert_int_equal(read(did[0], buf, 1), 1);
        }
    }
    close(go[1]); /* the reader's last read sees it all */
    close(did[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("the reader saw a log that is not the log: exit %d",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    ldg_close(l);
    t_rmrf(dir);
}

/* An applier that counts the frames folded (its at_commit; verify's
 * threads read too). */
static int
count_commit(void *ctx, struct ldg_txn *t, uint64_t size)
{
    (void)t;
    (void)size;
    __atomic_fetch_add((int *)ctx, 1, __ATOMIC_RELAXED);
    return 0;
}

static int
count_apply(void *ctx, struct ldg_txn *t, const struct ldg_event *ev,
            const json_t *body)
{
    (void)ctx;
    (void)t;
    (void)ev;
    (void)body;
    return 0;
}

/* A handle keeps its last reader's view (the tail replayed) for the next
 * reader: kept while nothing was committed to the store, brought up to
 * date with the frames another handle acked meanwhile, made anew after
 * the tail is applied and when the handle gains an applier (which folds
 * the tail it did not see); a second reader while the first is open
 * makes its own; an append after a read takes the kept view as its own.
 * Each read sees every acked event, the same bytes. A look at the store
 * alone replays and applies nothing. */
static void
test_intake_log__a_reader_view_is_kept_until_it_no_longer_holds(void **state)
{
    char dir[256];
    struct ldg_ledger *l, *r;
    struct ldg_txn *t1, *t2;
    struct ldg_applier a;
    uint64_t n1 = 0, n2 = 0, seq;
    int folds = 0;
    (void)state;

    l = t_ledger_new_layout(dir, sizeof dir, 0, 0, 9);
    r = open_dir(dir, LDG_NOSYNC);
    for (int i = 0; i < 5; i++)
        t_append(l, "x.test.event", "{\"a\":1}", NULL);
    assert_true(lmdb_size(l) < size_of(l)); /* a tail to replay */

    /* the first reader's view, kept and handed to the next */
    assert_int_equal(ldg_txn_begin(r, LDG_TXN_READ, &t1), 0);
    assert_int_equal(ldg_txn_size(t1, &n1), 0);
    assert_int_equal(n1, size_of(l));
    /* a second reader while it is open: a view of its own */
    assert_int_equal(ldg_txn_begin(r, LDG_TXN_READ, &t2), 0);
    assert_ptr_not_equal(t1, t2);
    assert_int_equal(ldg_txn_size(t2, &n2), 0);
    assert_int_equal(n2, n1);
    ldg_txn_abort(t2);
    assert_int_equal(ldg_txn_commit(t1), 0); /* a reader's end */
    assert_int_equal(ldg_txn_begin(r, LDG_TXN_READ, &t2), 0);
    assert_ptr_equal(t2, t1); /* the kept one */
    ldg_txn_abort(t2);

    /* frames another handle acked: replayed into the kept view */
    for (int i = 0; i < 3; i++)
        seq = t_append(l, "x.test.event", "{\"b\":2}", NULL);
    assert_int_equal(ldg_txn_begin(r, LDG_TXN_READ, &t2), 0);
    assert_ptr_equal(t2, t1);
    assert_int_equal(ldg_txn_size(t2, &n2), 0);
    assert_int_equal(n2, seq + 1);
    assert_int_equal(ldg_txn_tail(t2), n2 - lmdb_size(l));
    ldg_txn_abort(t2);
    proof_holds(r, seq);
    /* a look at the store alone (LDG_TXN_STORE) replays nothing, and
     * applies nothing either */
    n1 = lmdb_size(l);
    assert_true(n1 < n2);
    assert_int_equal(ldg_txn_begin(r, LDG_TXN_READ | LDG_TXN_STORE, &t2), 0);
    assert_ptr_not_equal(t2, t1);
    assert_int_equal(ldg_txn_size(t2, &n2), 0);
    assert_int_equal(n2, n1);
    assert_int_equal(ldg_txn_tail(t2), 0);
    ldg_txn_abort(t2);
    assert_int_equal(lmdb_size(l), n1);

    /* the tail applied to the store: the view is made anew */
    assert_int_equal(ldg_intake_settle(l), 0);
    assert_int_equal(lmdb_size(l), seq + 1);
    assert_int_equal(ldg_txn_begin(r, LDG_TXN_READ, &t2), 0);
    assert_int_equal(ldg_txn_size(t2, &n2), 0);
    assert_int_equal(n2, seq + 1);
    assert_int_equal(ldg_txn_tail(t2), 0);
    ldg_txn_abort(t2);

    /* an applier added after a read folds the tail a kept view lacks */
    for (int i = 0; i < 4; i++)
        seq = t_append(l, "x.test.event", "{\"c\":3}", NULL);
    assert_int_equal(ldg_txn_begin(r, LDG_TXN_READ, &t1), 0);
    ldg_txn_abort(t1);
    memset(&a, 0, sizeof a);
    a.name = "count";
    a.apply = count_apply;
    a.at_commit = count_commit;
    a.ctx = &folds;
    assert_int_equal(ldg_applier_add(r, &a), 0);
    assert_int_equal(ldg_txn_begin(r, LDG_TXN_READ, &t2), 0);
    assert_int_equal(folds, 4); /* the tail's four frames */
    assert_int_equal(ldg_txn_size(t2, &n2), 0);
    assert_int_equal(n2, seq + 1);
    ldg_txn_abort(t2);
    /* (kept again: nothing folded twice) */
    assert_int_equal(ldg_txn_begin(r, LDG_TXN_READ, &t2), 0);
    assert_int_equal(folds, 4);
    ldg_txn_abort(t2);

    /* an append after a read: the writer takes the kept view */
    seq = t_append(r, "x.test.event", "{\"d\":4}", NULL);
    assert_int_equal(folds, 5);
    assert_int_equal(size_of(l), seq + 1);
    proof_holds(l, seq);
    seq = t_append(l, "x.test.event", "{\"e\":5}", NULL);
    assert_int_equal(size_of(r), seq + 1);
    proof_holds(r, seq);
    verify_full(r);
    ldg_close(r);
    ldg_close(l);
    t_rmrf(dir);
}

/* A frame that ends at the ring's last block, and the tail applied right
 * there: the store records the ring's size as its position (the next
 * frame goes to block 1 of the next lap). Before, every later open
 * refused that position as outside the ring ("storage corrupt"), so a
 * ledger whose tail happened to be applied there was lost to its users
 * (tests/e2e/robust_readers.sh met it by chance). */
static void
test_intake_log__a_frame_may_end_at_the_ring_end(void **state)
{
    char dir[256], path[300];
    struct ldg_ledger *l;
    struct stat st;
    uint64_t n, events = 0;
    int fd;
    (void)state;

    l = t_ledger_new_layout(dir, sizeof dir, 0, 0, 9);
    snprintf(path, sizeof path, "%s/intake", dir);
    assert_int_equal(stat(path, &st), 0);
    n = (uint64_t)st.st_size / 4096; /* the ring's blocks, its header's too */
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    /* a frame an event after genesis's (block 1), followed through the
     * frames' headers until one ends at the ring's end */
    for (uint64_t seq = 1, at = 2; at < n; seq++) {
        uint8_t h[32];
        t_append(l, "x.test.event", "{}", NULL);
        assert_int_equal(pread(fd, h, sizeof h, (off_t)(at * 4096)), 32);
        if (memcmp(h, "LDGF", 4) != 0 || ldg_rd_be32(h + 8) != 1 ||
            ldg_rd_be64(h + 16) != seq)
            fail_msg("event %llu is not at block %llu of lap 1",
                     (unsigned long long)seq, (unsigned long long)at);
        at += ldg_rd_be32(h + 12);
        events = seq + 1;
    }
    close(fd);
    assert_int_equal(ldg_intake_settle(l), 0); /* there, at block n */
    assert_int_equal(lmdb_size(l), events);
    ldg_close(l);
    l = open_dir(dir, LDG_NOSYNC);
    assert_int_equal(size_of(l), events);
    t_append(l, "x.test.event", "{\"after\":1}", NULL); /* block 1, lap 2 */
    assert_int_equal(size_of(l), events + 1);
    verify_full(l);
    proof_holds(l, events);
    ldg_close(l);
    t_rmrf(dir);
}

/* A batch whose events fill its frame to just under the writer's limit
 * still closes it: the seals and checkpoint that close a frame (with epoch
 * keys, the first seal of an epoch carries its whole epoch part, some
 * 6 KB, and the checkpoint its epoch line) have room past the limit.
 * Before, such a commit failed "input too large" (serve answered 74
 * under load, about one run in four of 64 clients). A fresh anchored
 * ledger a batch size, batches of 40..75 events of some 2.5 KB: every
 * commit succeeds and the ledger verifies. */
static void
test_intake_log__a_full_frame_still_closes(void **state)
{
    (void)state;
    for (int n = 40; n <= 75; n++) {
        char dir[256], pad[2600];
        struct ldg_ledger *l = t_ledger_new_layout(dir, sizeof dir, 0, 0, 9);
        struct ldg_batch *b = NULL;
        uint64_t first = 0, got = 0, x = (uint64_t)n * 2654435761u;
        assert_int_equal(
            ldg_keys_anchor(l, NULL, 3600ull * 1000000000ull, NULL), 0);
        assert_int_equal(ldg_batch_begin(&b, l), 0);
        for (int i = 0; i < n; i++) {
            struct ldg_event_in ev;
            json_t *body;
            /* hard to compress: the frame fills by the byte count */
            for (size_t k = 0; k + 1 < sizeof pad; k++) {
                x = x * 6364136223846793005ull + 1442695040888963407ull;
                pad[k] = "0123456789abcdefghijklmnopqrstuv"[(x >> 33) & 31];
            }
            pad[sizeof pad - 1] = '\0';
            body = json_pack("{s:i, s:s}", "i", i, "pad", pad);
            memset(&ev, 0, sizeof ev);
            ev.type = "x.test.full";
            ev.body = body;
            assert_int_equal(ldg_batch_add(b, &ev), 0);
            json_decref(body);
        }
        if (ldg_batch_commit(b, &first, &got) != 0)
            fail_msg("a batch of %d events: %s", n, ldg_errmsg(l));
        assert_int_equal(got, (uint64_t)n);
        ldg_batch_free(b);
        verify_full(l);
        ldg_close(l);
        t_rmrf(dir);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_intake_log__acked_events_are_seen_at_once),
        cmocka_unit_test(test_intake_log__ids_hold_across_the_tail),
        cmocka_unit_test(test_intake_log__two_processes_make_one_chain),
        cmocka_unit_test(test_intake_log__bulk_and_batches_go_to_lmdb),
        cmocka_unit_test(test_intake_log__a_committed_batch_lets_the_lock_go),
        cmocka_unit_test(test_intake_log__layout_8_is_converted),
        cmocka_unit_test(test_intake_log__a_full_map_loses_nothing),
        cmocka_unit_test(test_intake_log__a_full_map_after_a_big_batch),
        cmocka_unit_test(test_intake_log__verify_names_frames_cut_off),
        cmocka_unit_test(
            test_intake_log__a_writer_sees_damage_after_its_own_frame),
        cmocka_unit_test(test_intake_log__readers_see_no_gap_while_applied),
        cmocka_unit_test(
            test_intake_log__a_reader_view_is_kept_until_it_no_longer_holds),
        cmocka_unit_test(test_intake_log__a_frame_may_end_at_the_ring_end),
        cmocka_unit_test(test_intake_log__a_full_frame_still_closes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
