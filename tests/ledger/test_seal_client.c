/*
 * test_seal_client.c — ledger/seal_client.c: a writer's sealed batch is
 * what the ledger's checks recompute: the batch parses
 * (ldg_sealed_batch_parse), each event's claim recomputed from its body
 * and salts (ldg_sealed_claim) decodes to what was sealed and its digests'
 * root carries a seal signature that verifies with the writer's public key
 * for that origin and range; a changed body, salt, first, origin or key
 * breaks it; bad events are refused naming the field, nothing added.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ledger/module.h"
#include "util/util.h"

static const char *const lines[] = {
    "{\"run\":\"R-1\",\"pack\":\"pdf-ops\"}",
    "{\"run\":\"R-1\",\"step\":\"s1\",\"tool\":\"ocr\",\"status\":\"ok\"}",
    "{\"run\":\"R-1\",\"status\":\"ok\"}",
};
static const char *const types[] = {"run.started", "run.step", "run.finished"};

static struct ldg_key *
key_from(const char *name, uint8_t b)
{
    uint8_t seed[32];
    struct ldg_key *k = NULL;
    memset(seed, b, sizeof seed);
    assert_int_equal(ldg_key_from_seed(&k, name, seed), 0);
    return k;
}

static json_t *
make_batch(const struct ldg_key *k, const char *origin, uint64_t first)
{
    struct ldg_sealer *s = NULL;
    json_t *batch = NULL;
    char err[512];
    uint8_t seed[32];
    memset(seed, 7, sizeof seed);
    assert_int_equal(ldg_sealer_begin(&s, origin, k, first), 0);
    ldg_sealer_set_salt_seed(s, seed);
    for (size_t i = 0; i < 3; i++) {
        struct ldg_event_in in;
        json_t *body = json_loads(lines[i], 0, NULL);
        memset(&in, 0, sizeof in);
        in.type = types[i];
        in.body = body;
        if (i == 1) {
            in.id = "step-1";
            in.has_time = 1;
            in.time_ns = 1795467301250000000ull;
        }
        assert_int_equal(ldg_sealer_add(s, &in, err, sizeof err), 0);
        json_decref(body);
    }
    assert_int_equal(ldg_sealer_count(s), 3);
    assert_int_equal(ldg_sealer_finish(s, &batch, err, sizeof err), 0);
    ldg_sealer_free(s);
    return batch;
}

/* What the ledger does with a batch before it writes anything: 0 if the
 * seal holds for pub and origin, else the failing code. */
static int
check_batch(const json_t *batch, const uint8_t pub[32], const char *origin,
            char *err, size_t cap)
{
    struct ldg_sealed_batch *b = NULL;
    struct ldg_seal seal;
    uint8_t(*d)[32];
    uint8_t claim[LDG_ENTRY_MAX];
    size_t len;
    int rc = ldg_sealed_batch_parse(&b, batch, err, cap);
    if (rc < 0)
        return rc;
    d = calloc(b->n, 32);
    assert_non_null(d);
    for (size_t i = 0; i < b->n && rc == 0; i++) {
        struct ldg_claim c;
        rc = ldg_sealed_claim(&b->ev[i].in, b->ev[i].salts, b->key_id, 0, claim,
                              sizeof claim, &len, d[i], err, cap);
        if (rc == 0) {
            assert_int_equal(ldg_claim_decode(claim, len, &c), 0);
            assert_string_equal(c.actor, b->key_id);
            assert_int_equal(c.type_len, strlen(b->ev[i].in.type));
        }
    }
    memset(&seal, 0, sizeof seal);
    seal.count = b->count;
    seal.first = b->first;
    memcpy(seal.key_id, b->key_id, sizeof seal.key_id);
    snprintf(seal.origin, sizeof seal.origin, "%s", origin);
    memcpy(seal.sig, b->sig, 64);
    if (rc == 0)
        rc = ldg_seal_root((const uint8_t(*)[32])d, b->n, seal.root);
    if (rc == 0)
        rc = ldg_seal_verify(&seal, pub);
    free(d);
    ldg_sealed_batch_free(b);
    return rc;
}

static void
test_seal_client__batch_verifies_as_the_ledger_checks_it(void **state)
{
    struct ldg_key *k = key_from("cp", 1), *other = key_from("other", 2);
    json_t *batch = make_batch(k, "example.org/box1", 12);
    json_t *s = json_object_get(batch, "sealed");
    json_t *ev;
    char err[512];
    (void)state;
    assert_string_equal(json_string_value(json_object_get(s, "key")),
                        k->key_id);
    assert_int_equal(json_integer_value(json_object_get(s, "first")), 12);
    assert_int_equal(json_integer_value(json_object_get(s, "count")), 3);
    ev = json_array_get(json_object_get(s, "events"), 1);
    /* subject and run are said outright; id and time carried */
    assert_string_equal(json_string_value(json_object_get(ev, "subject")),
                        "run:R-1");
    assert_string_equal(json_string_value(json_object_get(ev, "run")), "R-1");
    assert_string_equal(json_string_value(json_object_get(ev, "id")), "step-1");
    assert_int_equal(json_object_size(json_object_get(ev, "salts")), 4);
    assert_int_equal(
        check_batch(batch, k->pub, "example.org/box1", err, sizeof err), 0);
    /* another key, another origin: the seal does not hold */
    assert_int_equal(
        check_batch(batch, other->pub, "example.org/box1", err, sizeof err),
        LDG_EBADSIG);
    assert_int_equal(
        check_batch(batch, k->pub, "example.org/box2", err, sizeof err),
        LDG_EBADSIG);
    json_decref(batch);
    ldg_key_free(k);
    ldg_key_free(other);
}

static void
test_seal_client__tampered_batch_fails(void **state)
{
    struct ldg_key *k = key_from("cp", 1);
    char err[512];
    (void)state;
    {
        /* one body value changed after sealing */
        json_t *b = make_batch(k, "o", 0);
        json_t *ev = json_array_get(
            json_object_get(json_object_get(b, "sealed"), "events"), 2);
        json_object_set_new(json_object_get(ev, "body"), "status",
                            json_string("failed"));
        assert_int_equal(check_batch(b, k->pub, "o", err, sizeof err),
                         LDG_EBADSIG);
        json_decref(b);
    }
    {
        /* one salt changed */
        json_t *b = make_batch(k, "o", 0);
        json_t *ev = json_array_get(
            json_object_get(json_object_get(b, "sealed"), "events"), 0);
        json_object_set_new(json_object_get(ev, "salts"), "pack",
                            json_string("00000000000000000000000000000000"));
        assert_int_equal(check_batch(b, k->pub, "o", err, sizeof err),
                         LDG_EBADSIG);
        json_decref(b);
    }
    {
        /* replayed at another range */
        json_t *b = make_batch(k, "o", 0);
        json_object_set_new(json_object_get(b, "sealed"), "first",
                            json_integer(3));
        assert_int_equal(check_batch(b, k->pub, "o", err, sizeof err),
                         LDG_EBADSIG);
        json_decref(b);
    }
    {
        /* two events swapped */
        json_t *b = make_batch(k, "o", 0);
        json_t *evs = json_object_get(json_object_get(b, "sealed"), "events");
        json_t *e0 = json_incref(json_array_get(evs, 0));
        json_array_set(evs, 0, json_array_get(evs, 1));
        json_array_set_new(evs, 1, e0);
        assert_int_equal(check_batch(b, k->pub, "o", err, sizeof err),
                         LDG_EBADSIG);
        json_decref(b);
    }
    {
        /* a salt missing: refused by shape, naming the field */
        json_t *b = make_batch(k, "o", 0);
        json_t *ev = json_array_get(
            json_object_get(json_object_get(b, "sealed"), "events"), 0);
        json_object_del(json_object_get(ev, "salts"), "pack");
        assert_int_equal(check_batch(b, k->pub, "o", err, sizeof err),
                         LDG_EBADINPUT);
        assert_non_null(strstr(err, "pack"));
        json_decref(b);
    }
    ldg_key_free(k);
}

static void
test_seal_client__bad_events_refused(void **state)
{
    struct ldg_key *k = key_from("cp", 1), *pub = NULL;
    struct ldg_sealer *s = NULL;
    struct ldg_event_in in;
    struct ldg_source src;
    json_t *batch = NULL, *body;
    char err[512];
    (void)state;
    /* a key without its secret cannot seal */
    assert_int_equal(ldg_key_from_public(&pub, "cp", k->pub), 0);
    assert_int_equal(ldg_sealer_begin(&s, "o", pub, 0), LDG_EINVAL);
    ldg_key_free(pub);
    assert_int_equal(ldg_sealer_begin(&s, "o", k, 0), 0);
    assert_int_equal(ldg_sealer_finish(s, &batch, err, sizeof err),
                     LDG_EBADINPUT);
    assert_null(batch);
    memset(&in, 0, sizeof in);
    in.type = "run.started";
    body = json_pack("{s:s}", "pack", "p"); /* run missing */
    in.body = body;
    assert_int_equal(ldg_sealer_add(s, &in, err, sizeof err), LDG_EBADINPUT);
    assert_non_null(strstr(err, "run"));
    json_decref(body);
    in.type = "key.added";
    in.body = NULL;
    assert_int_equal(ldg_sealer_add(s, &in, err, sizeof err), LDG_EBADINPUT);
    assert_non_null(strstr(err, "log key"));
    in.type = "x.note";
    in.subject = "nocolon";
    assert_int_equal(ldg_sealer_add(s, &in, err, sizeof err), LDG_EBADINPUT);
    assert_non_null(strstr(err, "subject"));
    in.subject = NULL;
    memset(&src, 0, sizeof src);
    in.source = &src;
    assert_int_equal(ldg_sealer_add(s, &in, err, sizeof err), LDG_EBADINPUT);
    assert_non_null(strstr(err, "source"));
    in.source = NULL;
    in.run = "";
    assert_int_equal(ldg_sealer_add(s, &in, err, sizeof err), LDG_EBADINPUT);
    /* a run.* event's run link is its body's run: not another */
    in.type = "run.finished";
    in.run = "R-9";
    body = json_pack("{s:s, s:s}", "run", "R-8", "status", "ok");
    in.body = body;
    assert_int_equal(ldg_sealer_add(s, &in, err, sizeof err), LDG_EBADINPUT);
    assert_non_null(strstr(err, "the body's run is 'R-8'"));
    json_decref(body);
    in.type = "x.note";
    in.body = NULL;
    in.run = NULL;
    assert_int_equal(ldg_sealer_count(s), 0);
    /* a body with no fields seals, with empty salts */
    assert_int_equal(ldg_sealer_add(s, &in, err, sizeof err), 0);
    assert_int_equal(ldg_sealer_finish(s, &batch, err, sizeof err), 0);
    assert_int_equal(check_batch(batch, k->pub, "o", err, sizeof err), 0);
    json_decref(batch);
    ldg_sealer_free(s);
    ldg_key_free(k);
}

/* The same seed, events and key give the same batch, byte for byte; and
 * random salts differ between two sealings of the same events. */
static void
test_seal_client__deterministic_with_seed_random_without(void **state)
{
    struct ldg_key *k = key_from("cp", 1);
    json_t *a = make_batch(k, "o", 5), *b = make_batch(k, "o", 5);
    char *ta = json_dumps(a, JSON_SORT_KEYS),
         *tb = json_dumps(b, JSON_SORT_KEYS);
    struct ldg_sealer *s1 = NULL, *s2 = NULL;
    json_t *r1 = NULL, *r2 = NULL, *body = json_pack("{s:s}", "note", "hi");
    struct ldg_event_in in;
    char err[256];
    (void)state;
    assert_string_equal(ta, tb);
    memset(&in, 0, sizeof in);
    in.type = "x.note";
    in.body = body;
    assert_int_equal(ldg_sealer_begin(&s1, "o", k, 0), 0);
    assert_int_equal(ldg_sealer_begin(&s2, "o", k, 0), 0);
    assert_int_equal(ldg_sealer_add(s1, &in, err, sizeof err), 0);
    assert_int_equal(ldg_sealer_add(s2, &in, err, sizeof err), 0);
    assert_int_equal(ldg_sealer_finish(s1, &r1, err, sizeof err), 0);
    assert_int_equal(ldg_sealer_finish(s2, &r2, err, sizeof err), 0);
    assert_false(json_equal(r1, r2));
    json_decref(r1);
    json_decref(r2);
    json_decref(body);
    ldg_sealer_free(s1);
    ldg_sealer_free(s2);
    free(ta);
    free(tb);
    json_decref(a);
    json_decref(b);
    ldg_key_free(k);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_seal_client__batch_verifies_as_the_ledger_checks_it),
        cmocka_unit_test(test_seal_client__tampered_batch_fails),
        cmocka_unit_test(test_seal_client__bad_events_refused),
        cmocka_unit_test(
            test_seal_client__deterministic_with_seed_random_without),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
