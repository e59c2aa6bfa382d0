/*
 * test_vocab.c — the vocabulary: required fields, JSON types, enums,
 * custom types, subject derivation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ledger/module.h"
#include "util/util.h"

static int
check(const char *type, const char *body, char *err, size_t cap)
{
    json_t *b = json_loads(body, 0, NULL);
    int rc;
    assert_non_null(b);
    rc = ldg_vocab_check(type, b, err, cap);
    json_decref(b);
    return rc;
}

static void
test_vocab__every_example_event_is_valid(void **state)
{
    FILE *f = fopen("examples/pdf-ops.jsonl", "r");
    char line[8192], err[256];
    int n = 0;
    (void)state;
    assert_non_null(f);
    while (fgets(line, sizeof line, f) != NULL) {
        json_t *ev = json_loads(line, 0, NULL);
        assert_non_null(ev);
        if (ldg_vocab_check(json_string_value(json_object_get(ev, "type")),
                            json_object_get(ev, "body"), err, sizeof err) != 0)
            fail_msg("line %d: %s", n + 1, err);
        json_decref(ev);
        n++;
    }
    fclose(f);
    assert_int_equal(n, 31);
}

static void
test_vocab__missing_field_is_named(void **state)
{
    char err[256];
    (void)state;
    assert_int_equal(check("eval.result",
                           "{\"eval_id\":\"E\",\"suite\":\"s\",\"target\":"
                           "\"route:r\",\"candidate\":\"m\",\"passed\":true,"
                           "\"cases_total\":3}",
                           err, sizeof err),
                     LDG_EBADINPUT);
    assert_non_null(strstr(err, "'cases_passed'"));
    assert_non_null(strstr(err, "required"));
}

static void
test_vocab__wrong_json_type_is_named(void **state)
{
    char err[256];
    (void)state;
    assert_int_equal(check("host.profile",
                           "{\"cpu\":\"x\",\"cores\":\"16\",\"ram_mb\":1}", err,
                           sizeof err),
                     LDG_EBADINPUT);
    assert_non_null(strstr(err, "'cores'"));
    assert_non_null(strstr(err, "integer"));
    assert_int_equal(check("model.verified",
                           "{\"model\":\"m\",\"digest\":\"d\",\"ok\":1}", err,
                           sizeof err),
                     LDG_EBADINPUT);
    assert_non_null(strstr(err, "boolean"));
    /* an optional field with the wrong type is refused too */
    assert_int_equal(check("route.declared",
                           "{\"route\":\"r\",\"model\":\"m\",\"fallbacks\":"
                           "\"m2\"}",
                           err, sizeof err),
                     LDG_EBADINPUT);
    assert_non_null(strstr(err, "'fallbacks'"));
}

static void
test_vocab__enumerations_are_checked(void **state)
{
    char err[256];
    (void)state;
    assert_int_equal(check("runtime.health",
                           "{\"runtime\":\"o\",\"status\":\"sideways\"}", err,
                           sizeof err),
                     LDG_EBADINPUT);
    assert_non_null(strstr(err, "up|degraded|down"));
    assert_int_equal(check("permission.requested",
                           "{\"pack\":\"p\",\"group\":\"g\",\"scope\":\"s\","
                           "\"tier\":\"T9\"}",
                           err, sizeof err),
                     LDG_EBADINPUT);
    assert_int_equal(check("run.finished",
                           "{\"run\":\"R\",\"status\":\"aborted\"}", err,
                           sizeof err),
                     0);
}

static void
test_vocab__custom_types_need_the_x_prefix(void **state)
{
    char err[256];
    (void)state;
    assert_int_equal(
        check("x.myorg.thing", "{\"anything\":[1]}", err, sizeof err), 0);
    assert_int_equal(check("myorg.thing", "{}", err, sizeof err),
                     LDG_EBADINPUT);
    assert_non_null(strstr(err, "myorg.thing"));
    assert_int_equal(check("x.", "{}", err, sizeof err), LDG_EBADINPUT);
    assert_int_equal(check("x.Bad Name", "{}", err, sizeof err), LDG_EBADINPUT);
}

static void
test_vocab__subject_derivation_follows_the_order(void **state)
{
    static const struct {
        const char *body, *want;
    } cases[] = {
        {"{\"model\":\"m\",\"pack\":\"p\"}", "pack:p"},
        {"{\"model\":\"m\",\"route\":\"r\"}", "model:m"},
        {"{\"route\":\"r\",\"run\":\"R\"}", "route:r"},
        {"{\"target\":\"route:r\",\"run\":\"R\"}", "route:r"},
        {"{\"run\":\"R\",\"key_id\":\"k\"}", "run:R"},
        {"{\"key_id\":\"k\",\"runtime\":\"o\"}", "key:k"},
        {"{\"runtime\":\"ollama\"}", "runtime:ollama"},
        {"{\"cpu\":\"x\"}", "host:local"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[128];
        json_t *b = json_loads(cases[i].body, 0, NULL);
        assert_int_equal(ldg_vocab_subject("x.t", b, buf, sizeof buf), 0);
        assert_string_equal(buf, cases[i].want);
        json_decref(b);
    }
}

/* The role -> types table of docs/FORMAT.md ("Key roles"). */
static void
test_vocab__roles_allow_the_documented_types(void **state)
{
    json_t *run = json_pack("[s]", "run");
    json_t *cp = json_pack("[s, s]", "control-plane", "x");
    json_t *sensor = json_pack("[s]", "sensor");
    json_t *any = json_pack("[s]", "any");
    json_t *none = json_array();
    json_t *bogus = json_pack("[s]", "runner");
    json_t *notstr = json_pack("[s, i]", "run", 7);
    char err[256];
    (void)state;

    assert_true(ldg_roles_allow(run, "run.step"));
    assert_true(ldg_roles_allow(run, "run.finished"));
    assert_false(ldg_roles_allow(run, "route.decision"));
    assert_false(ldg_roles_allow(run, "runtime.health")); /* not a prefix */
    assert_false(ldg_roles_allow(run, "x.note"));
    assert_true(ldg_roles_allow(cp, "route.decision"));
    assert_true(ldg_roles_allow(cp, "promotion.promoted"));
    assert_true(ldg_roles_allow(cp, "permission.granted"));
    assert_true(ldg_roles_allow(cp, "x.myorg.thing"));
    assert_false(ldg_roles_allow(cp, "run.started"));
    assert_false(ldg_roles_allow(cp, "body.erased"));
    assert_true(ldg_roles_allow(sensor, "capacity.snapshot"));
    assert_true(ldg_roles_allow(sensor, "runtime.health"));
    assert_false(ldg_roles_allow(sensor, "model.state"));
    /* no roles: any type an actor key may sign; never the log key's own */
    assert_true(ldg_roles_allow(NULL, "run.step"));
    assert_true(ldg_roles_allow(none, "body.erased"));
    assert_true(ldg_roles_allow(any, "x.t"));
    assert_false(ldg_roles_allow(any, "key.added"));
    assert_false(ldg_roles_allow(NULL, "key.revoked"));
    assert_false(ldg_roles_allow(none, "ledger.genesis"));
    /* unknown roles allow nothing; the check names them */
    assert_false(ldg_roles_allow(bogus, "run.step"));
    assert_int_equal(ldg_roles_check(run, err, sizeof err), 0);
    assert_int_equal(ldg_roles_check(NULL, err, sizeof err), 0);
    assert_int_equal(ldg_roles_check(bogus, err, sizeof err), LDG_EBADINPUT);
    assert_non_null(strstr(err, "unknown role 'runner'"));
    assert_int_equal(ldg_roles_check(notstr, err, sizeof err), LDG_EBADINPUT);
    assert_non_null(strstr(err, "entry 1"));
    json_decref(run);
    json_decref(cp);
    json_decref(sensor);
    json_decref(any);
    json_decref(none);
    json_decref(bogus);
    json_decref(notstr);
}

/* Every type of ledger/events.h (docs/VOCABULARY.md's tables) is known to
 * the vocabulary, once: vocab.c's table has as many entries
 * (_Static_assert there), so the two lists are the same. */
static void
test_vocab__every_generated_type_is_known_once(void **state)
{
#define NAME(id, name) name,
    static const char *const names[] = {LDG_EVENT_TYPES(NAME)};
#undef NAME
    json_t *empty = json_object();
    char err[256];
    (void)state;
    assert_int_equal(sizeof names / sizeof names[0], LDG_EVENT_TYPE_COUNT);
    for (size_t i = 0; i < LDG_EVENT_TYPE_COUNT; i++) {
        err[0] = '\0';
        (void)ldg_vocab_check(names[i], empty, err, sizeof err);
        if (strstr(err, "unknown event type") != NULL)
            fail_msg("%s: %s", names[i], err);
        for (size_t k = 0; k < i; k++)
            if (strcmp(names[k], names[i]) == 0)
                fail_msg("%s listed twice", names[i]);
    }
    assert_int_not_equal(ldg_vocab_check("widget.spun", empty, err, sizeof err),
                         0);
    assert_non_null(strstr(err, "unknown event type"));
    json_decref(empty);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vocab__every_example_event_is_valid),
        cmocka_unit_test(test_vocab__every_generated_type_is_known_once),
        cmocka_unit_test(test_vocab__roles_allow_the_documented_types),
        cmocka_unit_test(test_vocab__missing_field_is_named),
        cmocka_unit_test(test_vocab__wrong_json_type_is_named),
        cmocka_unit_test(test_vocab__enumerations_are_checked),
        cmocka_unit_test(test_vocab__custom_types_need_the_x_prefix),
        cmocka_unit_test(test_vocab__subject_derivation_follows_the_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
