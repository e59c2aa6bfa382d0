/*
 * test_probe.c — collecting from the stub's Ollama and OpenAI shapes, and
 * the diff: everything new the first time, nothing the second, exactly
 * the changed model after a change, offline when the runtime is down.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sensors/sensors.h"
#include "tests/support/stub.h"
#include "tests/support/support.h"

static char statef[256];

static void
write_state(const char *d2, int loaded2)
{
    FILE *f = fopen(statef, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"models\": [{\"name\": \"a:1b\", \"digest\": \"%064d\", "
            "\"loaded\": true}, {\"name\": \"b:2b\", \"digest\": \"%s\", "
            "\"loaded\": %s}]}",
            1, d2, loaded2 ? "true" : "false");
    fclose(f);
}

static size_t
count(json_t *evs, const char *type)
{
    size_t i, n = 0;
    json_t *e;
    json_array_foreach(evs, i, e) n +=
        strcmp(json_string_value(json_object_get(e, "type")), type) == 0;
    return n;
}

static void
append_all(struct ldg_ledger *l, json_t *evs)
{
    size_t i;
    json_t *e;
    json_array_foreach(evs, i, e)
    {
        struct ldg_event_in in = {
            .type = json_string_value(json_object_get(e, "type")),
            .body = json_object_get(e, "body")};
        if (ldg_append(l, &in, NULL) < 0)
            fail_msg("append %s: %s", in.type, ldg_errmsg(l));
    }
}

static json_t *
probe(struct ldg_ledger *l, const struct ldg_probe_opts *o)
{
    json_t *evs = NULL, *news = NULL;
    assert_int_equal(ldg_probe_collect(o, &evs), 0);
    assert_int_equal(ldg_probe_diff(l, evs, o, &news), 0);
    json_decref(evs);
    append_all(l, news);
    return news;
}

static void
test_probe__twice_then_one_change_then_down(void **state)
{
    struct t_stub s;
    char dir[256], d2[65];
    memset(d2, 'b', 64);
    d2[64] = 0;
    setenv("no_proxy", "127.0.0.1", 1);
    snprintf(statef, sizeof statef, "%s/pstate.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    int fd = mkstemp(statef);
    assert_true(fd >= 0);
    close(fd);
    write_state(d2, 0);
    t_stub_start(&s, statef);
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_probe_runtime rt = {"ol", s.base, LDG_RT_AUTO};
    struct ldg_probe_opts o = {.runtimes = &rt,
                               .nruntimes = 1,
                               .timeout_ms = 2000,
                               .host = 1,
                               .disk_path = dir,
                               .nvidia_smi = ""};
    json_t *n = probe(l, &o);
    assert_int_equal(count(n, "runtime.registered"), 1);
    assert_int_equal(count(n, "runtime.health"), 1);
    assert_int_equal(count(n, "model.registered"), 2);
    assert_int_equal(count(n, "model.state"), 2);
    assert_int_equal(count(n, "host.profile"), 1);
    assert_int_equal(count(n, "capacity.snapshot"), 1);
    json_decref(n);

    n = probe(l, &o);
    assert_int_equal(json_array_size(n), 0);
    json_decref(n);

    d2[0] = 'c';
    write_state(d2, 0);
    n = probe(l, &o);
    assert_int_equal(json_array_size(n), 1);
    assert_int_equal(count(n, "model.registered"), 1);
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_array_get(n, 0), "body"), "model")),
        "b:2b");
    json_decref(n);

    t_stub_stop(&s);
    o.host = 0;
    n = probe(l, &o);
    assert_int_equal(count(n, "runtime.health"), 1);
    assert_int_equal(count(n, "model.state"), 2); /* both offline */
    json_decref(n);
    n = probe(l, &o);
    assert_int_equal(json_array_size(n), 0);
    json_decref(n);

    ldg_close(l);
    t_rmrf(dir);
    unlink(statef);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probe__twice_then_one_change_then_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
