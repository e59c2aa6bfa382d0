/*
 * test_intake_apply.c — intake frames from the append path, applied
 * (append.c's frame capture and ldg_intake_apply_frame; FORMAT.md 12):
 * every append of a ledger A records its frame; those frames applied to a
 * copy of A as it was before must give a store that holds, database by
 * database, record by record, exactly the bytes A's own appends wrote —
 * whether applied in an LMDB write transaction and committed, or in an
 * overlay over the copy's snapshot (what a reader sees of an unapplied
 * tail). A frame that does not follow the log (applied twice, out of
 * order, another log's checkpoint, a changed entry) is refused and
 * changes nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "ledger/intake_int.h"
#include "ledger/intake_log_int.h"
#include "tests/support/support.h"

#define NFRAMES_MAX 400

struct frames {
    uint8_t *p[NFRAMES_MAX];
    size_t len[NFRAMES_MAX];
    size_t n;
};

static void
frames_release(struct frames *fr)
{
    for (size_t i = 0; i < fr->n; i++)
        free(fr->p[i]);
    fr->n = 0;
}

/* Appends (type, body) to l, keeping the frame its commit made. */
static uint64_t
append_framed(struct ldg_ledger *l, struct frames *fr, const char *type,
              const char *body, const char *id)
{
    struct ldg_intake_build b;
    struct ldg_event_in in;
    const uint8_t *p;
    size_t n;
    uint64_t seq = 0;
    json_t *j = json_loads(body, 0, NULL);
    int rc;

    assert_non_null(j);
    memset(&in, 0, sizeof in);
    in.type = type;
    in.body = j;
    in.id = id;
    ldg_intake_build_init(&b, 1, 0, 1 << 20);
    l->frame = &b;
    rc = ldg_append(l, &in, &seq);
    l->frame = NULL;
    json_decref(j);
    if (rc == LDG_EDUPLICATE) { /* nothing stored: no frame */
        assert_int_equal(b.count, 0);
        ldg_intake_build_release(&b);
        return seq;
    }
    if (rc != 0)
        fail_msg("append %s: %s (%s)", type, ldg_strerror(rc), ldg_errmsg(l));
    assert_int_equal(ldg_intake_build_finish(&b, &p, &n), 0);
    assert_true(fr->n < NFRAMES_MAX);
    fr->p[fr->n] = malloc(n);
    assert_non_null(fr->p[fr->n]);
    memcpy(fr->p[fr->n], p, n);
    fr->len[fr->n++] = n;
    ldg_intake_build_release(&b);
    return seq;
}

/* Every core database of a's and b's transactions holds the same
 * records (meta: those the append writes; each ledger's own verify
 * records aside). */
static void
same_store(struct ldg_txn *a, struct ldg_txn *b, struct ldg_ledger *la,
           struct ldg_ledger *lb)
{
    for (int i = 0; i < LDG_CORE_DBS; i++) {
        struct ldg_cursor *ca, *cb;
        struct ldg_val ka, va, kb, vb;
        int ra, rb;
        uint64_t n = 0;
        if (!ldg_store_has_core(la->store, (enum ldg_core_db)i))
            continue;
        assert_int_equal(
            ldg_cursor_open(a, ldg_core(la, (enum ldg_core_db)i), &ca), 0);
        assert_int_equal(
            ldg_cursor_open(b, ldg_core(lb, (enum ldg_core_db)i), &cb), 0);
        ra = ldg_cursor_get(ca, LDG_FIRST, NULL, 0, &ka, &va);
        rb = ldg_cursor_get(cb, LDG_FIRST, NULL, 0, &kb, &vb);
        for (;; n++) {
            if (ra != rb)
                fail_msg("database %s: record %llu: %d against %d",
                         ldg_core_db_names[i], (unsigned long long)n, ra, rb);
            if (ra != 0)
                break;
            if (ka.len != kb.len || memcmp(ka.data, kb.data, ka.len) != 0 ||
                va.len != vb.len ||
                (va.len && memcmp(va.data, vb.data, va.len) != 0))
                fail_msg("database %s: record %llu differs (key '%.*s' of "
                         "%zu and %zu bytes; values of %zu and %zu bytes)",
                         ldg_core_db_names[i], (unsigned long long)n,
                         (int)ka.len, (const char *)ka.data, ka.len, kb.len,
                         va.len, vb.len);
            ra = ldg_cursor_get(ca, LDG_NEXT, NULL, 0, &ka, &va);
            rb = ldg_cursor_get(cb, LDG_NEXT, NULL, 0, &kb, &vb);
        }
        ldg_cursor_close(ca);
        ldg_cursor_close(cb);
    }
}

static struct ldg_ledger *
open_copy(const char *from, char *dir, size_t cap)
{
    struct ldg_options o;
    struct ldg_ledger *l = NULL;
    char cmd[1024], err[512];
    snprintf(dir, cap, "/tmp/ldgcopy.XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(cmd, sizeof cmd, "cp -a '%s/.' '%s/'", from, dir);
    assert_int_equal(system(cmd), 0);
    memset(&o, 0, sizeof o);
    o.flags = LDG_NOSYNC | LDG_ANY_LAYOUT; /* (a layout 8 store) */
    o.map_size_bytes = 64u << 20;
    if (ldg_open(&l, dir, &o, err, sizeof err) != 0)
        fail_msg("open: %s", err);
    return l;
}

static int
apply_all_frames(struct ldg_txn *t, const struct frames *fr, size_t from,
                 size_t to)
{
    for (size_t i = from; i < to; i++) {
        struct ldg_intake_frame f;
        int rc;
        assert_int_equal(ldg_intake_frame_parse(fr->p[i], fr->len[i], &f, NULL),
                         0);
        if ((rc = ldg_intake_apply_frame(t, &f)) < 0)
            return rc;
    }
    return 0;
}

static void
test_intake_apply__frames_rebuild_the_appends(void **state)
{
    char da[256], db[256], dc[256], body[256], id[32];
    struct ldg_ledger *a, *b, *c;
    struct frames fr = {0};
    struct ldg_txn *ta, *tb;
    uint64_t seq;
    (void)state;

    a = t_ledger_new_layout(da, sizeof da, 0, 0, 8);
    b = open_copy(da, db, sizeof db);
    c = open_copy(da, dc, sizeof dc);
    /* events of every kind the append stores: plain, with ids (and a
     * retried id: no frame), a key added and its events, an erasure,
     * past a tile of 256 leaves */
    for (int i = 0; i < 300; i++) {
        snprintf(body, sizeof body,
                 "{\"pack\":\"p%d\",\"run\":\"r%d\",\"n\":%d,\"s\":\"%s\"}",
                 i % 7, i % 5, i, i % 2 ? "alpha beta" : "gamma");
        snprintf(id, sizeof id, "e-%d", i);
        append_framed(a, &fr, "x.test.event", body, i % 3 ? NULL : id);
        if (i == 40)
            append_framed(a, &fr, "x.test.event", body, "e-39");
        if (i == 100) {
            struct ldg_intake_build bb;
            ldg_intake_build_init(&bb, 1, 0, 1 << 20);
            a->frame = &bb;
            assert_int_equal(ldg_keys_add(a, "agent", NULL, &seq), 0);
            a->frame = NULL;
            {
                const uint8_t *p;
                size_t n;
                assert_int_equal(ldg_intake_build_finish(&bb, &p, &n), 0);
                fr.p[fr.n] = malloc(n);
                memcpy(fr.p[fr.n], p, n);
                fr.len[fr.n++] = n;
            }
            ldg_intake_build_release(&bb);
        }
        if (i == 150)
            append_framed(a, &fr, "body.erased",
                          "{\"target_seq\":20,\"reason\":\"test\"}", NULL);
    }
    assert_true(fr.n >= 300);

    /* applied and committed */
    assert_int_equal(ldg_txn_begin(b, LDG_TXN_WRITE, &tb), 0);
    if (apply_all_frames(tb, &fr, 0, fr.n) != 0)
        fail_msg("apply: %s", ldg_errmsg(b));
    assert_int_equal(ldg_txn_commit(tb), 0);
    assert_int_equal(ldg_txn_begin(a, LDG_TXN_READ, &ta), 0);
    assert_int_equal(ldg_txn_begin(b, LDG_TXN_READ, &tb), 0);
    same_store(ta, tb, a, b);
    ldg_txn_abort(tb);

    /* applied in an overlay over the snapshot before them */
    assert_int_equal(ldg_store_txn_begin_overlay(c->store, c, &tb), 0);
    if (apply_all_frames(tb, &fr, 0, fr.n) != 0)
        fail_msg("apply in an overlay: %s", ldg_errmsg(c));
    assert_int_equal(ldg_txn_settle(tb), 0);
    same_store(ta, tb, a, c);
    ldg_txn_abort(tb);
    ldg_txn_abort(ta);

    /* and the copy verifies as the ledger */
    {
        struct ldg_verify_report rep;
        int rc = ldg_verify(b, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0, &rep,
                            NULL, NULL);
        if (rc != 0)
            fail_msg("verify: %s", rep.what);
    }

    ldg_close(a);
    ldg_close(b);
    ldg_close(c);
    frames_release(&fr);
    t_rmrf(da);
    t_rmrf(db);
    t_rmrf(dc);
}

/* Applies fr's first frame to b in a write transaction (committed when
 * it applies) with one byte of its checkpoint changed, the frame's
 * checksum made good again: in the root's text (sig 0) or in the
 * signature (sig 1). */
static int
apply_changed(struct ldg_ledger *b, struct frames *fr, int sig)
{
    struct ldg_intake_frame f;
    struct ldg_intake_rec r;
    struct ldg_sha256_ctx sc;
    struct ldg_txn *t;
    size_t off = 0;
    uint8_t *m = malloc(fr->len[0]);
    int rc;

    assert_non_null(m);
    memcpy(m, fr->p[0], fr->len[0]);
    assert_int_equal(ldg_intake_frame_parse(m, fr->len[0], &f, NULL), 0);
    while (ldg_intake_rec_next(&f, &off, &r) == 1) {
        if (r.kind == LDG_IREC_CHECKPOINT) {
            uint8_t *p = (uint8_t *)(uintptr_t)r.p;
            const uint8_t *end = memmem(p, r.len, "\n\n", 2);
            assert_non_null(end);
            if (sig)
                p[r.len - 3] ^= 1;
            else /* a base64 digit of the root, another digit */
                p[end - p - 2] = p[end - p - 2] == 'A' ? 'B' : 'A';
        }
    }
    ldg_sha256_init(&sc);
    ldg_sha256_update(&sc, m, 32);
    ldg_sha256_update(&sc, m + 64, f.payload_len);
    ldg_sha256_final(&sc, m + 32);
    assert_int_equal(ldg_intake_frame_parse(m, fr->len[0], &f, NULL), 0);
    assert_int_equal(ldg_txn_begin(b, LDG_TXN_WRITE, &t), 0);
    rc = ldg_intake_apply_frame(t, &f);
    if (rc == 0)
        assert_int_equal(ldg_txn_commit(t), 0);
    else
        ldg_txn_abort(t);
    free(m);
    return rc;
}

static void
test_intake_apply__refuses_frames_that_do_not_follow(void **state)
{
    char da[256], db[256];
    struct ldg_ledger *a, *b;
    struct frames fr = {0};
    struct ldg_txn *t;
    uint64_t size = 0;
    (void)state;

    a = t_ledger_new_layout(da, sizeof da, 0, 0, 8);
    b = open_copy(da, db, sizeof db);
    for (int i = 0; i < 3; i++)
        append_framed(a, &fr, "x.test.event", "{\"n\":1}", NULL);

    assert_int_equal(ldg_txn_begin(b, LDG_TXN_WRITE, &t), 0);
    /* out of order: the second first */
    assert_int_equal(apply_all_frames(t, &fr, 1, 2), LDG_ECORRUPT);
    assert_non_null(strstr(ldg_errmsg(b), "does not start where the log"));
    assert_int_equal(apply_all_frames(t, &fr, 0, 1), 0);
    /* twice */
    assert_int_equal(apply_all_frames(t, &fr, 0, 1), LDG_ECORRUPT);
    ldg_txn_abort(t);

    /* a checkpoint naming another tree (its root's text changed), its
     * checksum made good again: refused by what it says */
    assert_int_equal(apply_changed(b, &fr, 0), LDG_ECORRUPT);
    assert_non_null(strstr(ldg_errmsg(b), "checkpoint does not name the tree"));
    /* nothing of it stayed */
    assert_int_equal(ldg_txn_begin(b, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_txn_size(t, &size), 0);
    ldg_txn_abort(t);
    assert_int_equal(size, 1);
    /* its signature changed: applied (a frame's signatures were made
     * before its ack, and a checksum covers its bytes), and verify names
     * it as it names any stored checkpoint's */
    assert_int_equal(apply_changed(b, &fr, 1), 0);
    {
        struct ldg_verify_report rep;
        memset(&rep, 0, sizeof rep);
        assert_int_equal(ldg_verify(b, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0,
                                    &rep, NULL, NULL),
                         LDG_ETAMPER);
        assert_non_null(strstr(rep.what, "checkpoint"));
    }

    ldg_close(a);
    ldg_close(b);
    frames_release(&fr);
    t_rmrf(da);
    t_rmrf(db);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_intake_apply__frames_rebuild_the_appends),
        cmocka_unit_test(test_intake_apply__refuses_frames_that_do_not_follow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
