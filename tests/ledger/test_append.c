/*
 * test_append.c — ledger/append.c: an event's subject and run derived,
 * bad input changing nothing, timestamps that never go backwards, ids
 * that make an append idempotent; and the append path's sealed batches
 * (ldg_batch_add_sealed, ldg_writer_add_sealed): a client's seal is checked
 * whole (commitments recomputed from body and salts, claims, root, signature,
 * first, roles, key) and its events go in contiguously, or nothing does; a
 * source set on them (ledger serve's) goes in their stamps, outside the seal.
 *
 * The sealed batches here are built by the test itself from the public
 * primitives (field digests, body root, claims, seal tree, seal map), so
 * the ledger's recomputation is checked against an independent one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/support/support.h"

struct fx {
    char dir[256];
    struct ldg_ledger *l;
    struct ldg_key *alice; /* roles "run" */
    struct ldg_key *bob;   /* any actor type */
};

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    f->l = t_ledger_new_format(f->dir, sizeof f->dir, 0, 2);
    assert_int_equal(ldg_keys_add(f->l, "alice", "run", NULL), 0);
    assert_int_equal(ldg_keys_add(f->l, "bob", NULL, NULL), 0);
    assert_int_equal(ldg_keys_load(f->l, "alice", &f->alice), 0);
    assert_int_equal(ldg_keys_load(f->l, "bob", &f->bob), 0);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    ldg_key_free(f->alice);
    ldg_key_free(f->bob);
    ldg_close(f->l);
    t_rmrf(f->dir);
    free(f);
    return 0;
}

/* What a client does: salts, commitments, claims, digests, root, seal.
 * Events: type types[i], body {"run": "R-1", "step": "s<i>", ...}; ids
 * "<idp>-<i>" when idp is set. */
static json_t *
make_sealed(struct fx *f, const struct ldg_key *k, uint64_t first, size_t n,
            const char *type, const char *idp)
{
    json_t *evs = json_array();
    uint8_t(*d)[32] = calloc(n, 32);
    struct ldg_seal s;
    char sig[128];

    for (size_t i = 0; i < n; i++) {
        json_t *body =
            json_pack("{s:s, s:s, s:s, s:s, s:i}", "run", "R-1", "step", "s",
                      "tool", "t", "status", "ok", "duration_ms", (int)i);
        json_t *salts = json_object(), *ev;
        uint8_t fd[8][32], root[32], claim[LDG_ENTRY_MAX];
        char subject[LDG_SUBJECT_MAX + 1], id[64];
        const char *key;
        json_t *val;
        size_t nf = 0, cn;
        struct ldg_claim c;

        json_object_foreach(body, key, val)
        {
            uint8_t salt[16];
            char hex[33];
            for (int b = 0; b < 16; b++)
                salt[b] = (uint8_t)(i * 16 + nf + (size_t)b);
            ldg_hex(hex, salt, 16);
            json_object_set_new(salts, key, json_string(hex));
            assert_int_equal(ldg_field_digest(fd[nf], salt, key, val), 0);
            nf++;
        }
        ldg_body_root(root, (const uint8_t(*)[32])fd, nf);
        assert_int_equal(ldg_vocab_subject(type, body, subject, sizeof subject),
                         0);
        memset(&c, 0, sizeof c);
        memcpy(c.actor, k->key_id, sizeof c.actor);
        memcpy(c.body, root, 32);
        c.run = "R-1";
        c.run_len = 3;
        c.subject = subject;
        c.subject_len = strlen(subject);
        c.type = type;
        c.type_len = strlen(type);
        if (idp != NULL) {
            snprintf(id, sizeof id, "%s-%zu", idp, i);
            c.id = id;
            c.id_len = strlen(id);
        }
        assert_int_equal(ldg_claim_encode(&c, claim, sizeof claim, &cn), 0);
        ldg_claim_digest(d[i], claim, cn);
        ev = json_pack("{s:s, s:o, s:o}", "type", type, "body", body, "salts",
                       salts);
        if (idp != NULL)
            json_object_set_new(ev, "id", json_string(id));
        json_array_append_new(evs, ev);
    }
    memset(&s, 0, sizeof s);
    s.count = n;
    s.first = first;
    memcpy(s.key_id, k->key_id, sizeof s.key_id);
    snprintf(s.origin, sizeof s.origin, "%s", ldg_origin(f->l));
    assert_int_equal(ldg_seal_root((const uint8_t(*)[32])d, n, s.root), 0);
    assert_int_equal(ldg_seal_sign(&s, k), 0);
    ldg_base64(sig, s.sig, 64);
    free(d);
    return json_pack("{s:{s:s, s:I, s:I, s:s, s:o}}", "sealed", "key",
                     k->key_id, "first", (json_int_t)first, "count",
                     (json_int_t)n, "sig", sig, "events", evs);
}

static uint64_t
sealed_count(struct fx *f, const struct ldg_key *k)
{
    struct ldg_txn *t;
    uint64_t n = 0;
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_key_sealed(t, k->key_id, &n), 0);
    ldg_txn_abort(t);
    return n;
}

/* Adds j as a sealed batch in a batch of its own, each event's source
 * src (NULL: none, as parsed); returns the code, the batch committed only
 * on 0. */
static int
add_from(struct fx *f, json_t *j, const struct ldg_source *src, uint64_t *first)
{
    struct ldg_sealed_batch *sb = NULL;
    struct ldg_batch *b;
    char err[512];
    int rc;

    if (ldg_sealed_batch_parse(&sb, j, err, sizeof err) != 0)
        fail_msg("parse: %s", err);
    for (size_t i = 0; i < sb->n; i++) {
        assert_null(sb->ev[i].in.source); /* none on the wire */
        sb->ev[i].in.source = src;
    }
    assert_int_equal(ldg_batch_begin(&b, f->l), 0);
    rc = ldg_batch_add_sealed(b, sb, first);
    if (rc == 0)
        assert_int_equal(ldg_batch_commit(b, NULL, NULL), 0);
    ldg_batch_free(b);
    ldg_sealed_batch_free(sb);
    return rc;
}

static int
add_one(struct fx *f, json_t *j, uint64_t *first)
{
    return add_from(f, j, NULL, first);
}

static void
verify_ok(struct fx *f)
{
    struct ldg_verify_report r;
    if (ldg_verify(f->l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0, &r, NULL,
                   NULL) != 0)
        fail_msg("verify: %s", r.what);
}

static void
test_append__sealed_batch_goes_in_whole(void **state)
{
    struct fx *f = *state;
    uint64_t first = 0, size0, size1;
    json_t *j = make_sealed(f, f->alice, 0, 5, "run.step", "b1");
    struct ldg_seal_proof pr;
    struct ldg_txn *t;
    json_t *body;

    assert_int_equal(ldg_size(f->l, &size0), 0);
    assert_int_equal(add_one(f, j, &first), 0);
    assert_int_equal(first, size0);
    assert_int_equal(ldg_size(f->l, &size1), 0);
    assert_int_equal(size1, size0 + 5);
    assert_int_equal(sealed_count(f, f->alice), 5);
    verify_ok(f);
    /* the stored events: the client's seal, its bodies */
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_seal_proof(t, first + 3, &pr), 0);
    assert_int_equal(pr.seal_seq, first);
    assert_int_equal(pr.leaf, 3);
    assert_int_equal(pr.seal.first, 0);
    assert_int_equal(ldg_seal_verify(&pr.seal, f->alice->pub), 0);
    assert_int_equal(ldg_body_get(t, first + 3, &body), 0);
    assert_int_equal(json_integer_value(json_object_get(body, "duration_ms")),
                     3);
    json_decref(body);
    ldg_txn_abort(t);
    /* the same batch again: its ids are all there */
    assert_int_equal(add_one(f, j, &first), LDG_EDUPLICATE);
    assert_int_equal(first, size0);
    json_decref(j);
    /* the next one must carry first 5; a stale first is a replay */
    j = make_sealed(f, f->alice, 0, 2, "run.step", NULL);
    assert_int_equal(add_one(f, j, NULL), LDG_EBADINPUT);
    assert_non_null(strstr(ldg_errmsg(f->l), "stale or replayed"));
    json_decref(j);
    j = make_sealed(f, f->alice, 5, 2, "run.step", NULL);
    assert_int_equal(add_one(f, j, NULL), 0);
    json_decref(j);
    assert_int_equal(sealed_count(f, f->alice), 7);
    /* ledger-held appends of the same key go on from there */
    t_append(f->l, "run.step",
             "{\"run\":\"R-1\",\"step\":\"x\",\"tool\":\"t\","
             "\"status\":\"ok\",\"duration_ms\":1}",
             "alice");
    assert_int_equal(sealed_count(f, f->alice), 8);
    verify_ok(f);
}

/* Everything the ledger recomputes must match what was sealed. */
static void
test_append__sealed_batch_refused_whole(void **state)
{
    struct fx *f = *state;
    uint64_t size0, size1;
    json_t *j, *ev;

    assert_int_equal(ldg_size(f->l, &size0), 0);
    /* a body value changed after sealing */
    j = make_sealed(f, f->alice, 0, 3, "run.step", NULL);
    ev = json_array_get(json_object_get(json_object_get(j, "sealed"), "events"),
                        1);
    json_object_set_new(json_object_get(ev, "body"), "status",
                        json_string("failed"));
    assert_int_equal(add_one(f, j, NULL), LDG_EBADSIG);
    assert_non_null(strstr(ldg_errmsg(f->l), "does not verify with key"));
    json_decref(j);
    /* a salt changed */
    j = make_sealed(f, f->alice, 0, 3, "run.step", NULL);
    ev = json_array_get(json_object_get(json_object_get(j, "sealed"), "events"),
                        2);
    json_object_set_new(json_object_get(ev, "salts"), "tool",
                        json_string("00000000000000000000000000000000"));
    assert_int_equal(add_one(f, j, NULL), LDG_EBADSIG);
    json_decref(j);
    /* the events reordered */
    j = make_sealed(f, f->alice, 0, 3, "run.step", NULL);
    {
        json_t *evs = json_object_get(json_object_get(j, "sealed"), "events");
        json_t *e0 = json_incref(json_array_get(evs, 0));
        json_array_remove(evs, 0);
        json_array_append_new(evs, e0);
    }
    assert_int_equal(add_one(f, j, NULL), LDG_EBADSIG);
    json_decref(j);
    /* sealed by bob, sent as alice's */
    j = make_sealed(f, f->bob, 0, 2, "run.step", NULL);
    json_object_set_new(json_object_get(j, "sealed"), "key",
                        json_string(f->alice->key_id));
    assert_int_equal(add_one(f, j, NULL), LDG_EBADSIG);
    json_decref(j);
    /* a type alice's roles do not allow: the event is named */
    j = make_sealed(f, f->alice, 0, 2, "x.other", NULL);
    if (add_one(f, j, NULL) != LDG_EKEY)
        fail_msg("%s", ldg_errmsg(f->l));
    assert_non_null(strstr(ldg_errmsg(f->l), "sealed.events[0]"));
    json_decref(j);
    /* the log key's types never arrive sealed */
    j = make_sealed(f, f->bob, 0, 1, "key.revoked", NULL);
    {
        int rc = add_one(f, j, NULL);
        assert_true(rc == LDG_EKEY || rc == LDG_EBADINPUT);
        assert_non_null(strstr(ldg_errmsg(f->l), "sealed.events[0]"));
    }
    json_decref(j);
    /* a key the ledger does not know */
    {
        struct ldg_key *m;
        assert_int_equal(ldg_key_generate(&m, "mallory"), 0);
        j = make_sealed(f, m, 0, 1, "run.step", NULL);
        assert_int_equal(add_one(f, j, NULL), LDG_EKEY);
        assert_non_null(strstr(ldg_errmsg(f->l), "not enrolled"));
        json_decref(j);
        ldg_key_free(m);
    }
    /* ids repeated inside the batch */
    j = make_sealed(f, f->bob, 0, 2, "run.step", "same");
    {
        json_t *evs = json_object_get(json_object_get(j, "sealed"), "events");
        json_object_set_new(json_array_get(evs, 1), "id",
                            json_string("same-0"));
    }
    /* (the seal no longer matches either; the ids are named first only if
     * the seal holds, so re-seal isn't needed: it is refused) */
    assert_int_not_equal(add_one(f, j, NULL), 0);
    json_decref(j);
    assert_int_equal(ldg_size(f->l, &size1), 0);
    assert_int_equal(size1, size0);
    assert_int_equal(sealed_count(f, f->alice), 0);
    /* a revoked key */
    assert_int_equal(ldg_keys_revoke(f->l, "bob", "lost", NULL), 0);
    j = make_sealed(f, f->bob, 0, 1, "run.step", NULL);
    assert_int_equal(add_one(f, j, NULL), LDG_EKEY);
    assert_non_null(strstr(ldg_errmsg(f->l), "revoked"));
    json_decref(j);
    verify_ok(f);
}

/* In one batch (as serve groups many connections' requests): ledger-held
 * events, a client's sealed batch, more ledger-held events, and a refused
 * sealed batch that leaves the rest alone. */
static void
test_append__sealed_batch_among_others(void **state)
{
    struct fx *f = *state;
    struct ldg_sealed_batch *sb = NULL, *bad = NULL;
    struct ldg_batch *b;
    struct ldg_event_in in;
    json_t *j = make_sealed(f, f->bob, 1, 3, "run.step", NULL);
    json_t *k = make_sealed(f, f->bob, 7, 1, "run.step", NULL);
    json_t *body =
        json_pack("{s:s, s:s, s:s, s:s, s:i}", "run", "R-1", "step", "a",
                  "tool", "t", "status", "ok", "duration_ms", 1);
    char err[256];
    uint64_t first = 0, n = 0, at = 0;

    assert_int_equal(ldg_sealed_batch_parse(&sb, j, err, sizeof err), 0);
    assert_int_equal(ldg_sealed_batch_parse(&bad, k, err, sizeof err), 0);
    memset(&in, 0, sizeof in);
    in.type = "run.step";
    in.body = body;
    assert_int_equal(ldg_batch_begin(&b, f->l), 0);
    in.actor = "bob";
    assert_int_equal(ldg_batch_add(b, &in), 0);
    in.actor = "alice";
    assert_int_equal(ldg_batch_add(b, &in), 0);
    /* bob's ledger-held seal of this batch is closed before his client's
     * seal goes in (a key's seals never interleave): first is 1 */
    assert_int_equal(ldg_batch_add_sealed(b, sb, &at), 0);
    assert_int_equal(ldg_batch_add_sealed(b, bad, NULL), LDG_EBADINPUT);
    in.actor = "bob";
    if (ldg_batch_add(b, &in) != 0)
        fail_msg("%s", ldg_errmsg(f->l));
    assert_int_equal(ldg_batch_commit(b, &first, &n), 0);
    ldg_batch_free(b);
    assert_int_equal(n, 6);
    assert_int_equal(at, first + 2);
    ldg_sealed_batch_free(sb);
    ldg_sealed_batch_free(bad);
    json_decref(j);
    json_decref(k);
    json_decref(body);
    verify_ok(f);
    assert_int_equal(sealed_count(f, f->bob), 5);
}

/* A format 1 ledger takes no sealed batch. */
static void
test_append__sealed_batch_needs_format_2(void **state)
{
    struct fx *f = *state;
    char dir[256];
    struct ldg_ledger *l1 = t_ledger_new_format(dir, sizeof dir, 0, 1);
    struct ldg_sealed_batch *sb = NULL;
    struct ldg_batch *b;
    char err[256];
    json_t *j = make_sealed(f, f->alice, 0, 1, "run.step", NULL);

    assert_int_equal(ldg_format(l1), 1);
    assert_int_equal(ldg_sealed_batch_parse(&sb, j, err, sizeof err), 0);
    assert_int_equal(ldg_batch_begin(&b, l1), 0);
    assert_int_equal(ldg_batch_add_sealed(b, sb, NULL), LDG_EBADINPUT);
    assert_non_null(strstr(ldg_errmsg(l1), "format 1"));
    ldg_batch_free(b);
    ldg_sealed_batch_free(sb);
    json_decref(j);
    ldg_close(l1);
    t_rmrf(dir);
}

/* Through the bulk writer: what was queued is committed first. */
static void
test_append__sealed_batch_through_the_writer(void **state)
{
    struct fx *f = *state;
    struct ldg_writer *w;
    struct ldg_sealed_batch *sb = NULL;
    struct ldg_event_in in;
    json_t *j = make_sealed(f, f->alice, 0, 4, "run.step", NULL);
    json_t *body =
        json_pack("{s:s, s:s, s:s, s:s, s:i}", "run", "R-1", "step", "a",
                  "tool", "t", "status", "ok", "duration_ms", 1);
    char err[256];
    uint64_t at = 0, size;

    assert_int_equal(ldg_sealed_batch_parse(&sb, j, err, sizeof err), 0);
    assert_int_equal(ldg_writer_new(&w, f->l, NULL), 0);
    memset(&in, 0, sizeof in);
    in.type = "run.step";
    in.body = body;
    in.actor = "alice";
    for (int i = 0; i < 10; i++)
        assert_int_equal(ldg_writer_add(w, &in), 0);
    /* alice's 10 queued events are sealed first: first 0 is stale now */
    assert_int_equal(ldg_writer_add_sealed(w, sb, &at), LDG_EBADINPUT);
    assert_int_equal(ldg_writer_committed(w), 10);
    ldg_sealed_batch_free(sb);
    json_decref(j);
    j = make_sealed(f, f->alice, 10, 4, "run.step", NULL);
    assert_int_equal(ldg_sealed_batch_parse(&sb, j, err, sizeof err), 0);
    assert_int_equal(ldg_writer_add_sealed(w, sb, &at), 0);
    assert_int_equal(ldg_writer_add(w, &in), 0);
    assert_int_equal(ldg_writer_flush(w), 0);
    assert_int_equal(ldg_writer_committed(w), 15);
    ldg_writer_free(w);
    assert_int_equal(ldg_size(f->l, &size), 0);
    assert_int_equal(at, size - 5);
    ldg_sealed_batch_free(sb);
    json_decref(j);
    json_decref(body);
    verify_ok(f);
}

/* A sealed batch's events with a source (what ledger serve sets from the
 * connection): each stamp records it, the claims and the seal are the
 * client's as sealed, the log verifies, and the batch sent again with
 * another source is still recognised as the one recorded. */
static void
test_append__sealed_batch_records_its_source(void **state)
{
    struct fx *f = *state;
    struct ldg_source a = {1000, 100, 4242, "/usr/bin/agent", "agent.service"};
    struct ldg_source b = {0, 0, 7, NULL, NULL};
    json_t *j = make_sealed(f, f->alice, 0, 3, "run.step", "src");
    struct ldg_seal_proof pr;
    struct ldg_txn *t;
    struct ldg_event ev;
    uint64_t first = 0, again = 0;

    assert_int_equal(add_from(f, j, &a, &first), 0);
    verify_ok(f);
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    for (uint64_t i = 0; i < 3; i++) {
        uint8_t d[32];
        assert_int_equal(ldg_event_get(t, first + i, &ev), 0);
        assert_true(ev.sealed && ev.has_source);
        assert_true(ev.src_uid == 1000 && ev.src_gid == 100 &&
                    ev.src_pid == 4242);
        assert_true(ev.src_exe_len == 14 &&
                    memcmp(ev.src_exe, "/usr/bin/agent", 14) == 0);
        assert_true(ev.src_unit_len == 13 &&
                    memcmp(ev.src_unit, "agent.service", 13) == 0);
        /* the claim is the client's: its digest is the stamp's */
        ldg_claim_digest(d, ev.signed_part, ev.signed_len);
        assert_memory_equal(d, ev.digest, 32);
        assert_int_equal(ldg_seal_proof(t, first + i, &pr), 0);
        assert_int_equal(ldg_seal_verify(&pr.seal, f->alice->pub), 0);
    }
    ldg_txn_abort(t);
    /* a retry from another process: the seal decides, not the stamp */
    assert_int_equal(add_from(f, j, &b, &again), LDG_EDUPLICATE);
    assert_int_equal(again, first);
    json_decref(j);
    verify_ok(f);
}

static void
test_append__append_derives_subject_and_run(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_txn *t;
    struct ldg_event ev;
    json_t *b;
    uint64_t s1, s2;
    (void)state;

    s1 = t_append(l, "route.decision",
                  "{\"route\":\"pdf-ops/extract\",\"chosen_model\":\"m\","
                  "\"run\":\"R-7\"}",
                  NULL);
    s2 = t_append(l, "host.profile",
                  "{\"cpu\":\"x\",\"cores\":2,\"ram_mb\":1024}", NULL);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_event_get(t, s1, &ev), 0);
    assert_string_equal(ev.subject, "route:pdf-ops/extract");
    assert_string_equal(ev.run, "R-7");
    assert_int_equal(ldg_body_get(t, s1, &b), 0);
    assert_string_equal(json_string_value(json_object_get(b, "chosen_model")),
                        "m");
    json_decref(b);
    assert_int_equal(ldg_event_get(t, s2, &ev), 0);
    assert_string_equal(ev.subject, "host:local");
    assert_string_equal(ev.run, "");
    ldg_txn_abort(t);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_append__bad_input_changes_nothing(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_event_in in;
    uint64_t before, after;
    json_t *b;
    (void)state;

    assert_int_equal(ldg_size(l, &before), 0);
    memset(&in, 0, sizeof in);
    in.type = "route.decision";
    b = json_pack("{s:s}", "route", "r");
    in.body = b;
    assert_int_equal(ldg_append(l, &in, NULL), LDG_EBADINPUT);
    assert_non_null(strstr(ldg_errmsg(l), "chosen_model"));
    json_decref(b);
    in.type = "no.such";
    b = json_object();
    in.body = b;
    assert_int_equal(ldg_append(l, &in, NULL), LDG_EBADINPUT);
    assert_non_null(strstr(ldg_errmsg(l), "x."));
    in.type = "ledger.genesis";
    assert_int_equal(ldg_append(l, &in, NULL), LDG_EBADINPUT);
    in.type = "x.ok";
    in.subject = "nocolon";
    assert_int_equal(ldg_append(l, &in, NULL), LDG_EBADINPUT);
    in.subject = NULL;
    in.has_parent = 1;
    in.parent = 99;
    assert_int_equal(ldg_append(l, &in, NULL), LDG_EBADINPUT);
    in.has_parent = 0;
    in.actor = "nobody";
    assert_int_equal(ldg_append(l, &in, NULL), LDG_EKEY);
    in.actor = NULL;
    json_decref(b);
    /* a run.* event in one run by its link and another by its body: the
     * runs view and the timeline would each hold half of it */
    in.type = "run.finished";
    in.run = "R-9";
    b = json_pack("{s:s, s:s}", "run", "R-8", "status", "ok");
    in.body = b;
    assert_int_equal(ldg_append(l, &in, NULL), LDG_EBADINPUT);
    assert_non_null(strstr(ldg_errmsg(l), "the body's run is 'R-8'"));
    in.type = "x.ok";
    in.run = NULL;
    json_decref(b);
    /* an oversized body is refused */
    {
        char *big = malloc(2 << 20);
        memset(big, 'a', (2 << 20) - 1);
        big[(2 << 20) - 1] = '\0';
        b = json_pack("{s:s}", "blob", big);
        free(big);
        in.actor = NULL;
        in.body = b;
        assert_int_equal(ldg_append(l, &in, NULL), LDG_ETOOBIG);
        json_decref(b);
    }
    assert_int_equal(ldg_size(l, &after), 0);
    assert_int_equal(before, after);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_append__timestamps_never_go_backwards(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_txn *t;
    struct ldg_event a, b;
    uint64_t clock = 2000000000000000000ull, s1, s2;
    (void)state;

    ldg_set_clock(l, &clock);
    s1 = t_append(l, "x.t", "{}", NULL);
    clock -= 1000000000ull; /* the clock jumps back a second */
    s2 = t_append(l, "x.t", "{}", NULL);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_event_get(t, s1, &a), 0);
    assert_int_equal(ldg_event_get(t, s2, &b), 0);
    assert_true(b.ts_ns > a.ts_ns);
    ldg_txn_abort(t);
    ldg_close(l);
    t_rmrf(dir);
}

/* A key anchored for epoch keys seals only through the ledger (its epoch
 * seals carry what only the box can make): a sealed batch of it, though
 * signed by the key itself, is refused and nothing is written, where it
 * was acked and then failed verify. */
static void
test_append__sealed_batch_of_an_anchored_key_refused(void **state)
{
    struct fx f;
    struct ldg_verify_report rep;
    uint64_t size0, size1;
    json_t *j;
    (void)state;

    memset(&f, 0, sizeof f);
    f.l = t_ledger_new_layout(f.dir, sizeof f.dir, 0, 0, 9);
    assert_int_equal(ldg_keys_add(f.l, "alice", "run", NULL), 0);
    assert_int_equal(ldg_keys_load(f.l, "alice", &f.alice), 0);
    j = make_sealed(&f, f.alice, 0, 2, "run.step", NULL);
    if (add_one(&f, j, NULL) != 0) /* before its anchor: taken */
        fail_msg("%s", ldg_errmsg(f.l));
    json_decref(j);
    assert_int_equal(ldg_keys_anchor(f.l, "alice", 60000000000ull, NULL), 0);
    assert_int_equal(ldg_size(f.l, &size0), 0);
    j = make_sealed(&f, f.alice, 2, 2, "run.step", NULL);
    assert_int_equal(add_one(&f, j, NULL), LDG_EKEY);
    json_decref(j);
    assert_non_null(strstr(ldg_errmsg(f.l), "seals with epoch keys"));
    assert_int_equal(ldg_size(f.l, &size1), 0);
    assert_true(size1 == size0);
    assert_int_equal(
        ldg_verify(f.l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0, &rep, NULL,
                   NULL),
        0);
    ldg_key_free(f.alice);
    ldg_close(f.l);
    t_rmrf(f.dir);
}

/* An id is appended once: again (from this handle, after reopening, in a
 * batch, through the writer) it gives the first event's seq and appends
 * nothing; the ledger still verifies. */
static void
test_append__ids_are_idempotent(void **state)
{
    char dir[256], err[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_options o = {.flags = LDG_NOSYNC};
    struct ldg_source src = {1000, 1000, 77, "/bin/x", NULL};
    struct ldg_event_in in;
    struct ldg_verify_report rep;
    struct ldg_batch *b;
    struct ldg_writer *w;
    struct ldg_txn *t;
    struct ldg_event ev;
    uint64_t seq = 0, again = 0, size0, size1, s2 = 0;
    (void)state;

    memset(&in, 0, sizeof in);
    in.type = "x.a";
    in.body = json_pack("{s:i}", "i", 1);
    in.id = "k-1";
    in.has_time = 1;
    in.time_ns = 12345;
    in.source = &src;
    assert_int_equal(ldg_append(l, &in, &seq), 0);
    assert_int_equal(ldg_size(l, &size0), 0);
    assert_int_equal(ldg_append(l, &in, &again), LDG_EDUPLICATE);
    assert_true(again == seq);
    assert_int_equal(ldg_size(l, &size1), 0);
    assert_true(size1 == size0);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_event_get(t, seq, &ev), 0);
    assert_true(ev.id_len == 3 && memcmp(ev.id, "k-1", 3) == 0);
    assert_true(ev.has_time && ev.time_ns == 12345);
    assert_true(ev.has_source && ev.src_pid == 77 && ev.src_unit_len == 0);
    ldg_txn_abort(t);
    ldg_close(l);

    assert_int_equal(ldg_open(&l, dir, &o, err, sizeof err), 0);
    assert_int_equal(ldg_append(l, &in, &again), LDG_EDUPLICATE);
    assert_true(again == seq);
    /* a batch: the old id, a new one twice */
    assert_int_equal(ldg_batch_begin(&b, l), 0);
    assert_int_equal(ldg_batch_add_seq(b, &in, &again, NULL), LDG_EDUPLICATE);
    assert_true(again == seq);
    in.id = "k-2";
    assert_int_equal(ldg_batch_add_seq(b, &in, &s2, NULL), 0);
    assert_int_equal(ldg_batch_add_seq(b, &in, &again, NULL), LDG_EDUPLICATE);
    assert_true(again == s2);
    assert_int_equal(ldg_batch_commit(b, NULL, NULL), 0);
    ldg_batch_free(b);
    /* the writer: k-2 again and k-3 twice: one event stored */
    assert_int_equal(ldg_size(l, &size0), 0);
    assert_int_equal(ldg_writer_new(&w, l, NULL), 0);
    assert_int_equal(ldg_writer_add(w, &in), 0);
    in.id = "k-3";
    assert_int_equal(ldg_writer_add(w, &in), 0);
    assert_int_equal(ldg_writer_add(w, &in), 0);
    assert_int_equal(ldg_writer_flush(w), 0);
    assert_true(ldg_writer_committed(w) == 1);
    ldg_writer_free(w);
    assert_int_equal(ldg_size(l, &size1), 0);
    assert_true(size1 == size0 + 1);
    /* the same id for another event: the first one's seq, nothing
     * appended, and what differs is said */
    {
        unsigned differs = 99;
        json_t *other = json_pack("{s:i}", "i", 2), *keep = in.body;
        char names[96];
        assert_int_equal(ldg_size(l, &size0), 0);
        in.id = "k-1";
        assert_int_equal(ldg_append_ex(l, &in, &again, &differs),
                         LDG_EDUPLICATE);
        assert_true(again == seq);
        assert_int_equal(differs, 0); /* the very same event */
        in.body = other;
        assert_int_equal(ldg_append_ex(l, &in, &again, &differs),
                         LDG_EDUPLICATE);
        assert_true(again == seq);
        assert_int_equal(differs, LDG_DIFF_BODY);
        assert_non_null(
            strstr(ldg_errmsg(l), "which differs from this one in body"));
        in.type = "x.b";
        in.has_time = 0;
        assert_int_equal(ldg_append_ex(l, &in, &again, &differs),
                         LDG_EDUPLICATE);
        assert_int_equal(differs,
                         LDG_DIFF_TYPE | LDG_DIFF_TIME | LDG_DIFF_BODY);
        assert_string_equal(ldg_dup_diff_names(differs, names, sizeof names),
                            "type, time, body");
        /* in a batch too, also against an event earlier in the batch */
        assert_int_equal(ldg_batch_begin(&b, l), 0);
        assert_int_equal(ldg_batch_add_seq(b, &in, &again, &differs),
                         LDG_EDUPLICATE);
        assert_true(again == seq);
        assert_int_equal(differs,
                         LDG_DIFF_TYPE | LDG_DIFF_TIME | LDG_DIFF_BODY);
        in.id = "k-4";
        assert_int_equal(ldg_batch_add_seq(b, &in, &s2, &differs), 0);
        in.body = keep;
        assert_int_equal(ldg_batch_add_seq(b, &in, &again, &differs),
                         LDG_EDUPLICATE);
        assert_true(again == s2);
        assert_int_equal(differs, LDG_DIFF_BODY);
        assert_int_equal(ldg_batch_commit(b, NULL, NULL), 0);
        ldg_batch_free(b);
        assert_int_equal(ldg_size(l, &size1), 0);
        assert_true(size1 == size0 + 1); /* k-4 only */
        json_decref(other);
        in.type = "x.a";
    }
    /* a bad id is refused */
    in.id = "a\nb";
    assert_int_equal(ldg_append(l, &in, NULL), LDG_EBADINPUT);
    json_decref(in.body);
    memset(&rep, 0, sizeof rep);
    assert_int_equal(ldg_verify(l, LDG_VERIFY_FULL, 0, &rep, NULL, NULL), 0);
    ldg_close(l);
    t_rmrf(dir);
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_append__sealed_batch_goes_in_whole),
        T(test_append__sealed_batch_refused_whole),
        T(test_append__sealed_batch_among_others),
        T(test_append__sealed_batch_needs_format_2),
        T(test_append__sealed_batch_through_the_writer),
        T(test_append__sealed_batch_records_its_source),
        cmocka_unit_test(test_append__append_derives_subject_and_run),
        cmocka_unit_test(test_append__bad_input_changes_nothing),
        cmocka_unit_test(test_append__timestamps_never_go_backwards),
        cmocka_unit_test(test_append__ids_are_idempotent),
        cmocka_unit_test(test_append__sealed_batch_of_an_anchored_key_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
