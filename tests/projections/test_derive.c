/*
 * test_derive.c — the projection rules of VOCABULARY.md, scenario by
 * scenario: every examples/scenarios/NAME.expect is checked against the
 * views computed from NAME.jsonl (or ../NAME.jsonl), ingested into a
 * fresh ledger with the projections attached.
 *
 * An .expect file holds lines
 *   at SEQ                          the state as of event SEQ
 *   pack NAME FIELD VALUE           packs view, row NAME
 *   permission PACK/GROUP/SCOPE FIELD VALUE
 *   model NAME FIELD VALUE | route NAME ... | promotion TARGET ... |
 *   run RUN ...                     the other views
 *   doctor PACK FIELD VALUE         the doctor's row for PACK ("-": the
 *                                   doctor object itself)
 *   clause PACK NAME STATUS         a pack clause: ok, fail, unknown
 *   box NAME STATUS                 a log-derived box clause
 *   KIND KEY absent                 no such row
 * FIELD is a dotted path (routes.0.role); VALUE the rest of the line,
 * compared with the JSON value (strings as they are, true/false/null,
 * numbers as %g).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ingest/ingest.h"
#include "projections/projections.h"
#include "tests/support/support.h"

static const char *
src_dir(void)
{
    const char *s = getenv("LEDGER_SRC");
    return s ? s : ".";
}

struct views {
    json_t *v[7];
};

static void
views_load(struct ldg_ledger *l, uint64_t at_size, struct views *vs)
{
    struct ldg_view_opts o;
    memset(&o, 0, sizeof o);
    o.at_size = at_size;
    for (int i = 0; i < 7; i++) {
        int rc = ldg_projections_view(l, (enum ldg_proj_view)i, &o, &vs->v[i]);
        if (rc != 0)
            fail_msg("view %d at %llu: %s", i, (unsigned long long)at_size,
                     ldg_errmsg(l));
    }
}

static void
views_free(struct views *vs)
{
    for (int i = 0; i < 7; i++) {
        json_decref(vs->v[i]);
        vs->v[i] = NULL;
    }
}

/* Row of arr whose field key equals name, or NULL. */
static json_t *
row(json_t *arr, const char *key, const char *name)
{
    size_t i;
    json_t *r;
    json_array_foreach(arr, i, r)
    {
        const char *s = json_string_value(json_object_get(r, key));
        if (s != NULL && strcmp(s, name) == 0)
            return r;
    }
    return NULL;
}

static json_t *
perm_row(json_t *arr, const char *spec)
{
    char pack[256], group[256];
    const char *a = strchr(spec, '/'), *b;
    size_t i;
    json_t *r;
    assert_non_null(a);
    b = strchr(a + 1, '/');
    assert_non_null(b);
    snprintf(pack, sizeof pack, "%.*s", (int)(a - spec), spec);
    snprintf(group, sizeof group, "%.*s", (int)(b - a - 1), a + 1);
    json_array_foreach(arr, i, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "pack")), pack) == 0 &&
            strcmp(json_string_value(json_object_get(r, "group")), group) ==
                0 &&
            strcmp(json_string_value(json_object_get(r, "scope")), b + 1) == 0)
            return r;
    }
    return NULL;
}

/* Follows a dotted path (object keys, array indexes). */
static json_t *
path(json_t *v, const char *p)
{
    char part[128];
    while (v != NULL && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        snprintf(part, sizeof part, "%.*s", (int)n, p);
        if (json_is_array(v))
            v = json_array_get(v, (size_t)atoi(part));
        else
            v = json_object_get(v, part);
        p += n + (dot != NULL);
    }
    return v;
}

static void
render(const json_t *v, char *buf, size_t cap)
{
    if (v == NULL)
        snprintf(buf, cap, "(missing)");
    else if (json_is_string(v))
        snprintf(buf, cap, "%s", json_string_value(v));
    else if (json_is_true(v))
        snprintf(buf, cap, "true");
    else if (json_is_false(v))
        snprintf(buf, cap, "false");
    else if (json_is_null(v))
        snprintf(buf, cap, "null");
    else if (json_is_number(v))
        snprintf(buf, cap, "%g", json_number_value(v));
    else {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        snprintf(buf, cap, "%s", s ? s : "?");
        free(s);
    }
}

static const char *
clause_status(json_t *owner, const char *name)
{
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(owner, "ok"), i,
                       x) if (strcmp(json_string_value(x), name) ==
                              0) return "ok";
    json_array_foreach(
        json_object_get(owner, "clauses"), i,
        x) if (strcmp(json_string_value(json_object_get(x, "name")), name) ==
               0) return json_string_value(json_object_get(x, "status"));
    return "(missing)";
}

/* Checks one expectation line; returns 0 or 1 (a failure, printed). */
static int
check_line(const char *scen, int lineno, char *line, struct views *vs,
           uint64_t at)
{
    char *kind = strtok(line, " ");
    char *key = strtok(NULL, " ");
    char *field = strtok(NULL, " ");
    const char *value = strtok(NULL, "");
    json_t *r = NULL, *got;
    char buf[1024];

    if (kind == NULL || key == NULL || field == NULL)
        fail_msg("%s:%d: malformed expectation", scen, lineno);
    if (strcmp(kind, "clause") == 0 || strcmp(kind, "box") == 0) {
        const char *st;
        json_t *doc = vs->v[LDG_VIEW_DOCTOR];
        if (strcmp(kind, "clause") == 0) {
            json_t *p = row(json_object_get(doc, "packs"), "pack", key);
            st = p ? clause_status(p, field) : "(no such pack)";
            value = value ? value : "";
        } else {
            json_t *x = row(json_object_get(doc, "box"), "name", key);
            st = x ? json_string_value(json_object_get(x, "status"))
                   : "(missing)";
            value = field;
        }
        if (strcmp(st, value) != 0) {
            fprintf(stderr, "%s:%d (at %llu): %s %s: got %s, want %s\n", scen,
                    lineno, (unsigned long long)at, kind, key, st, value);
            return 1;
        }
        return 0;
    }
    if (strcmp(kind, "pack") == 0)
        r = row(vs->v[LDG_VIEW_PACKS], "pack", key);
    else if (strcmp(kind, "permission") == 0)
        r = perm_row(vs->v[LDG_VIEW_PERMISSIONS], key);
    else if (strcmp(kind, "model") == 0)
        r = row(vs->v[LDG_VIEW_MODELS], "model", key);
    else if (strcmp(kind, "route") == 0)
        r = row(vs->v[LDG_VIEW_ROUTES], "route", key);
    else if (strcmp(kind, "promotion") == 0)
        r = row(vs->v[LDG_VIEW_PROMOTIONS], "target", key);
    else if (strcmp(kind, "run") == 0)
        r = row(vs->v[LDG_VIEW_RUNS], "run", key);
    else if (strcmp(kind, "doctor") == 0)
        r = strcmp(key, "-") == 0
                ? vs->v[LDG_VIEW_DOCTOR]
                : row(json_object_get(vs->v[LDG_VIEW_DOCTOR], "packs"), "pack",
                      key);
    else
        fail_msg("%s:%d: unknown kind '%s'", scen, lineno, kind);
    if (strcmp(field, "absent") == 0) {
        if (r != NULL) {
            fprintf(stderr, "%s:%d (at %llu): %s %s exists, want absent\n",
                    scen, lineno, (unsigned long long)at, kind, key);
            return 1;
        }
        return 0;
    }
    if (r == NULL) {
        fprintf(stderr, "%s:%d (at %llu): no %s %s\n", scen, lineno,
                (unsigned long long)at, kind, key);
        return 1;
    }
    got = path(r, field);
    render(got, buf, sizeof buf);
    if (value == NULL || strcmp(buf, value) != 0) {
        fprintf(stderr, "%s:%d (at %llu): %s %s %s: got '%s', want '%s'\n",
                scen, lineno, (unsigned long long)at, kind, key, field, buf,
                value ? value : "");
        return 1;
    }
    return 0;
}

static void
ingest_file(struct ldg_ledger *l, const char *path_)
{
    struct ldg_ingest_opts o;
    struct ldg_ingest_report rep;
    FILE *f = fopen(path_, "rb");
    int rc;
    if (f == NULL)
        fail_msg("cannot open %s", path_);
    memset(&o, 0, sizeof o);
    o.strict = 1;
    rc = ldg_ingest(l, f, &o, &rep);
    fclose(f);
    if (rc != 0)
        fail_msg("ingest %s: %s", path_, ldg_errmsg(l));
}

/* Runs one scenario; returns the number of failed expectations. */
static int
run_scenario(const char *name)
{
    char dir[256], jsonl[1024], expect[1024], line[2048];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct views vs;
    json_t *diffs = NULL;
    uint64_t ndiff = 1, at = 0;
    int failed = 0, lineno = 0, loaded = 0;
    FILE *f;

    memset(&vs, 0, sizeof vs);
    assert_int_equal(ldg_projections_attach(l), 0);
    snprintf(jsonl, sizeof jsonl, "%s/examples/scenarios/%s.jsonl", src_dir(),
             name);
    f = fopen(jsonl, "rb");
    if (f == NULL)
        snprintf(jsonl, sizeof jsonl, "%s/examples/%s.jsonl", src_dir(), name);
    else
        fclose(f);
    ingest_file(l, jsonl);
    /* Incremental state equals a rebuild from the log. */
    assert_int_equal(ldg_projections_check(l, 0, NULL, NULL, &diffs, &ndiff),
                     0);
    if (ndiff != 0) {
        char *s = json_dumps(diffs, JSON_INDENT(1));
        fail_msg("%s: incremental state differs from a rebuild: %s", name, s);
    }
    json_decref(diffs);
    snprintf(expect, sizeof expect, "%s/examples/scenarios/%s.expect",
             src_dir(), name);
    f = fopen(expect, "r");
    if (f == NULL)
        fail_msg("cannot open %s", expect);
    while (fgets(line, sizeof line, f) != NULL) {
        size_t n = strlen(line);
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0 || line[0] == '#')
            continue;
        if (strncmp(line, "at ", 3) == 0) {
            views_free(&vs);
            at = strtoull(line + 3, NULL, 10);
            views_load(l, at + 1, &vs);
            loaded = 1;
            continue;
        }
        if (!loaded)
            fail_msg("%s:%d: expectation before any 'at'", expect, lineno);
        failed += check_line(name, lineno, line, &vs, at);
    }
    fclose(f);
    views_free(&vs);
    ldg_close(l);
    t_rmrf(dir);
    return failed;
}

#define SCENARIO(name)                                                         \
    static void test_derive__scenario_##name(void **state)                     \
    {                                                                          \
        (void)state;                                                           \
        assert_int_equal(run_scenario(#name), 0);                              \
    }

SCENARIO(lifecycle)
SCENARIO(permissions)
SCENARIO(routes)
SCENARIO(promotions)
SCENARIO(ready)
SCENARIO(erasure)

static void
test_derive__scenario_pdf_ops(void **state)
{
    (void)state;
    assert_int_equal(run_scenario("pdf-ops"), 0);
}

static void
test_derive__scenario_models_runs(void **state)
{
    (void)state;
    assert_int_equal(run_scenario("models-runs"), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_derive__scenario_pdf_ops),
        cmocka_unit_test(test_derive__scenario_lifecycle),
        cmocka_unit_test(test_derive__scenario_permissions),
        cmocka_unit_test(test_derive__scenario_routes),
        cmocka_unit_test(test_derive__scenario_promotions),
        cmocka_unit_test(test_derive__scenario_models_runs),
        cmocka_unit_test(test_derive__scenario_ready),
        cmocka_unit_test(test_derive__scenario_erasure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
