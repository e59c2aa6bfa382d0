/*
 * test_witness.c — the tlog-witness decisions (fleet/witness.c) on a real
 * ledger's checkpoints and consistency proofs: cosign, 409 with the held
 * size, refused rollbacks and forks, bad proofs, unknown origins, bad
 * signatures, malformed bodies, state across a restart.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "fleet/fleet.h"
#include "tests/support/support.h"

struct fx {
    char ldir[4096], wdir[4096], vkey[600], wvkey[600];
    struct ldg_ledger *l;
    struct ldg_witness *w;
};

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    const char *trust[1];
    char err[512];

    f->l = t_ledger_new(f->ldir, sizeof f->ldir, 0);
    assert_int_equal(ldg_verifier_key(f->l, f->vkey, sizeof f->vkey), 0);
    snprintf(f->wdir, sizeof f->wdir, "%.4000s/witness", f->ldir);
    assert_int_equal(ldg_witness_init(f->wdir, "w.example/w1", f->wvkey,
                                      sizeof f->wvkey, err, sizeof err),
                     0);
    trust[0] = f->vkey;
    assert_int_equal(
        ldg_witness_open(&f->w, f->wdir, trust, 1, err, sizeof err), 0);
    assert_string_equal(ldg_witness_vkey(f->w), f->wvkey);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;

    ldg_witness_free(f->w);
    ldg_close(f->l);
    t_rmrf(f->ldir);
    free(f);
    return 0;
}

/* The add-checkpoint body from old to the latest checkpoint. */
static char *
body_from(struct fx *f, uint64_t old)
{
    struct ldg_txn *t;
    char *b = NULL, *ck = NULL;
    uint64_t size;

    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    ldg_txn_size(t, &size);
    if (old == 0) {
        assert_int_equal(ldg_checkpoint_get(t, 0, &ck), 0);
        b = malloc(strlen(ck) + 8);
        sprintf(b, "old 0\n\n%s", ck);
        free(ck);
    } else {
        assert_int_equal(ldg_consistency_text(t, old, size, &b), 0);
    }
    ldg_txn_abort(t);
    return b;
}

static int
add(struct fx *f, const char *body, struct ldg_witness_reply *r)
{
    assert_int_equal(
        ldg_witness_add_checkpoint(f->w, body, strlen(body), 1700000000, r), 0);
    return r->status;
}

static void
test_witness__cosigns_then_grows(void **state)
{
    struct fx *f = *state;
    struct ldg_witness_reply r;
    char *b, *note;
    uint64_t t;
    size_t n;

    t_append_many(f->l, 5);
    b = body_from(f, 0);
    assert_int_equal(add(f, b, &r), 200);
    /* the line cosigns the checkpoint: checkpoint + line verifies */
    n = strlen(strchr(b, '\n') + 2);
    note = malloc(n + r.body_len + 1);
    memcpy(note, strchr(b, '\n') + 2, n);
    memcpy(note + n, r.body, r.body_len + 1);
    assert_int_equal(ldg_cosig_verify(note, n + r.body_len, f->wvkey, &t), 0);
    assert_int_equal(t, 1700000000);
    free(note);
    ldg_witness_reply_release(&r);
    free(b);

    t_append_many(f->l, 7);
    b = body_from(f, 6);
    assert_int_equal(add(f, b, &r), 200);
    ldg_witness_reply_release(&r);
    free(b);
}

static void
test_witness__stale_old_size_gets_409_with_held_size(void **state)
{
    struct fx *f = *state;
    struct ldg_witness_reply r;
    char *b;

    t_append_many(f->l, 3);
    b = body_from(f, 0);
    assert_int_equal(add(f, b, &r), 200);
    ldg_witness_reply_release(&r);
    /* the same request again: the witness now holds size 4 */
    assert_int_equal(add(f, b, &r), 409);
    assert_string_equal(r.ctype, "text/x.tlog.size");
    assert_string_equal(r.body, "4\n");
    ldg_witness_reply_release(&r);
    free(b);
}

static void
test_witness__rollback_refused(void **state)
{
    struct fx *f = *state;
    struct ldg_witness_reply r;
    char *small, *big;

    t_append_many(f->l, 2); /* size 3 */
    small = body_from(f, 0);
    t_append_many(f->l, 4); /* size 7 */
    big = body_from(f, 0);
    assert_int_equal(add(f, big, &r), 200);
    ldg_witness_reply_release(&r);
    /* old 0 against held 7 */
    assert_int_equal(add(f, small, &r), 409);
    assert_string_equal(r.body, "7\n");
    ldg_witness_reply_release(&r);
    /* "old 7" with a size-3 checkpoint: old above the size */
    small[4] = '7';
    assert_int_equal(add(f, small, &r), 400);
    assert_non_null(strstr(r.why, "above the checkpoint's size"));
    ldg_witness_reply_release(&r);
    free(small);
    free(big);
}

static void
test_witness__fork_same_size_refused_and_kept(void **state)
{
    struct fx *f = *state;
    struct ldg_witness_reply r;
    char *b, text[200], *note = NULL, body[1024], path[4200];
    static const uint8_t other[32] = {1, 2, 3};
    char b64[45];
    struct stat st;

    t_append_many(f->l, 3); /* size 4 */
    b = body_from(f, 0);
    assert_int_equal(add(f, b, &r), 200);
    ldg_witness_reply_release(&r);
    /* a checkpoint of size 4 with another root, signed by the log key */
    ldg_base64(b64, other, 32);
    snprintf(text, sizeof text, "%s\n4\n%s\n", ldg_origin(f->l), b64);
    assert_int_equal(ldg_log_sign_note(f->l, text, strlen(text), &note), 0);
    snprintf(body, sizeof body, "old 4\n\n%s", note);
    assert_int_equal(add(f, body, &r), 409);
    assert_string_equal(r.body, "4\n");
    assert_non_null(strstr(r.why, "fork refused"));
    ldg_witness_reply_release(&r);
    snprintf(path, sizeof path, "%s/refused", f->wdir);
    assert_int_equal(stat(path, &st), 0);
    free(note);
    free(b);
}

static void
test_witness__bad_proof_422(void **state)
{
    struct fx *f = *state;
    struct ldg_witness_reply r;
    char *b, *h;

    t_append_many(f->l, 4); /* size 5 */
    b = body_from(f, 0);
    assert_int_equal(add(f, b, &r), 200);
    ldg_witness_reply_release(&r);
    free(b);
    t_append_many(f->l, 6);
    b = body_from(f, 5);
    h = strchr(b, '\n') + 1; /* first proof hash */
    h[0] = h[0] == 'A' ? 'B' : 'A';
    assert_int_equal(add(f, b, &r), 422);
    assert_non_null(strstr(r.why, "does not verify"));
    ldg_witness_reply_release(&r);
    /* the witness still holds 5 */
    h[0] = 'x';
    free(b);
    b = body_from(f, 0);
    assert_int_equal(add(f, b, &r), 409);
    assert_string_equal(r.body, "5\n");
    ldg_witness_reply_release(&r);
    free(b);
}

static void
test_witness__unknown_origin_bad_sig_malformed(void **state)
{
    struct fx *f = *state;
    struct ldg_witness_reply r;
    char dir2[4096];
    struct ldg_ledger *l2 = t_ledger_new(dir2, sizeof dir2, 0);

    {
        /* a checkpoint for an origin nobody told the witness about */
        char text[300], *note = NULL, body[1024];
        static const uint8_t root[32];
        char b64[45];
        ldg_base64(b64, root, 32);
        snprintf(text, sizeof text, "other.example/log\n1\n%s\n", b64);
        assert_int_equal(ldg_log_sign_note(f->l, text, strlen(text), &note), 0);
        snprintf(body, sizeof body, "old 0\n\n%s", note);
        assert_int_equal(add(f, body, &r), 404);
        ldg_witness_reply_release(&r);
        free(note);
    }
    /* our origin, signed by another key */
    {
        char text[300], *note = NULL, body[1024];
        static const uint8_t root[32];
        char b64[45];
        ldg_base64(b64, root, 32);
        snprintf(text, sizeof text, "%s\n1\n%s\n", ldg_origin(f->l), b64);
        /* l2's log key under our origin's name: not trusted */
        assert_int_equal(ldg_log_sign_note(l2, text, strlen(text), &note), 0);
        snprintf(body, sizeof body, "old 0\n\n%s", note);
        assert_int_equal(add(f, body, &r), 403);
        ldg_witness_reply_release(&r);
        free(note);
    }
    assert_int_equal(add(f, "old x\n\nnothing\n", &r), 400);
    ldg_witness_reply_release(&r);
    assert_int_equal(add(f, "", &r), 400);
    ldg_witness_reply_release(&r);
    ldg_close(l2);
    t_rmrf(dir2);
}

static void
test_witness__state_survives_reopen(void **state)
{
    struct fx *f = *state;
    struct ldg_witness_reply r;
    const char *trust[1] = {f->vkey};
    char err[256], *b;

    t_append_many(f->l, 2);
    b = body_from(f, 0);
    assert_int_equal(add(f, b, &r), 200);
    ldg_witness_reply_release(&r);
    ldg_witness_free(f->w);
    assert_int_equal(
        ldg_witness_open(&f->w, f->wdir, trust, 1, err, sizeof err), 0);
    assert_int_equal(add(f, b, &r), 409);
    assert_string_equal(r.body, "3\n");
    ldg_witness_reply_release(&r);
    free(b);
}

/* A state file the kernel never wrote back (a crash before writeback) is
 * restored from the journal, which was fdatasync'd before the answer. */
static void
test_witness__journal_restores_lost_state(void **state)
{
    struct fx *f = *state;
    struct ldg_witness_reply r;
    const char *trust[1] = {f->vkey};
    char err[256], *b, cmd[4400];

    t_append_many(f->l, 4);
    b = body_from(f, 0);
    assert_int_equal(add(f, b, &r), 200);
    ldg_witness_reply_release(&r);
    ldg_witness_free(f->w);
    f->w = NULL;
    snprintf(cmd, sizeof cmd, "rm -f '%s'/state/*", f->wdir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(
        ldg_witness_open(&f->w, f->wdir, trust, 1, err, sizeof err), 0);
    assert_int_equal(add(f, b, &r), 409);
    assert_string_equal(r.body, "5\n");
    ldg_witness_reply_release(&r);
    free(b);
}

static void
test_witness__open_refuses_bad_trust_and_key_mode(void **state)
{
    struct fx *f = *state;
    struct ldg_witness *w = NULL;
    const char *bad[1] = {"not-a-vkey"};
    char err[512], path[4200];

    assert_int_equal(ldg_witness_open(&w, f->wdir, bad, 1, err, sizeof err),
                     LDG_EBADINPUT);
    assert_non_null(strstr(err, "not-a-vkey"));
    snprintf(path, sizeof path, "%s/witness.key", f->wdir);
    chmod(path, 0644);
    assert_int_equal(ldg_witness_open(&w, f->wdir, NULL, 0, err, sizeof err),
                     LDG_EKEY);
    chmod(path, 0600);
    snprintf(path, sizeof path, "%s/nowhere", f->ldir);
    assert_int_equal(ldg_witness_open(&w, path, NULL, 0, err, sizeof err),
                     LDG_ENOTFOUND);
    assert_int_equal(
        ldg_witness_init(f->wdir, "w2", path, sizeof path, err, sizeof err),
        LDG_EEXIST);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_witness__cosigns_then_grows, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_witness__stale_old_size_gets_409_with_held_size, setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_witness__rollback_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_witness__fork_same_size_refused_and_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_witness__bad_proof_422, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_witness__unknown_origin_bad_sig_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_witness__state_survives_reopen,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_witness__journal_restores_lost_state, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_witness__open_refuses_bad_trust_and_key_mode, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
