/*
 * test_audit.c — audit-central's row decoder (fleet/audit.c) without a
 * ClickHouse server: the rows `ledger ship` sends (ldg_ship_rows) audited
 * against a verified mirror (ldg_audit_rows). Clean rows audit clean; a
 * line that is not a row, a row out of order, a missing row, an altered
 * column or body, and an entry that is not the mirrored leaf are each a
 * finding naming the seq.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fleet/fleet.h"
#include "fleet/fleet_int.h"
#include "tests/support/support.h"

struct fx {
    char ldir[4096], mir[4200];
    char *rows;
    size_t len;
    char found[8192];
};

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    struct ldg_ledger *l;
    struct ldg_tiles_report tr;
    struct ldg_mirror_report mr;
    struct ldg_fetcher fe;
    struct ldg_txn *t;
    char pub[4200], vkey[600], err[512];

    l = t_ledger_new(f->ldir, sizeof f->ldir, 0);
    t_append(l, "x.a", "{\"name\":\"quote \\\" and \\u00e9\",\"n\":1.5}", NULL);
    t_append_many(l, 8);
    snprintf(pub, sizeof pub, "%.4000s/pub", f->ldir);
    snprintf(f->mir, sizeof f->mir, "%.4000s/mirror", f->ldir);
    assert_int_equal(ldg_tiles_write(l, pub, &tr), 0);
    ldg_fetcher_dir(&fe, pub);
    assert_int_equal(ldg_verifier_key(l, vkey, sizeof vkey), 0);
    assert_int_equal(ldg_mirror_sync(f->mir, vkey, NULL, 0, &fe, &mr, err, sizeof err),
                     0);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_ship_rows(t, ldg_origin(l), 0, 10, &f->rows, &f->len,
                                   err, sizeof err),
                     0);
    ldg_txn_abort(t);
    ldg_close(l);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    t_rmrf(f->ldir);
    free(f->rows);
    free(f);
    return 0;
}

static void
on_finding(void *ctx, const char *line)
{
    struct fx *f = ctx;
    size_t n = strlen(f->found);
    snprintf(f->found + n, sizeof f->found - n, "%s\n", line);
}

static int
audit(struct fx *f, const char *rows, struct ldg_audit_report *r)
{
    char err[512] = "";
    f->found[0] = '\0';
    return ldg_audit_rows(f->mir, rows, strlen(rows), on_finding, f, r, err,
                          sizeof err);
}

/* The rows with line i (0-based) replaced by repl (NULL: deleted). */
static char *
with_line(const char *rows, int i, const char *repl)
{
    size_t cap = strlen(rows) + (repl ? strlen(repl) : 0) + 2;
    char *out = calloc(1, cap), *o = out;
    const char *p = rows;
    for (int k = 0; *p; k++) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);
        if (k != i) {
            memcpy(o, p, n);
            o += n;
        } else if (repl != NULL) {
            o += sprintf(o, "%s\n", repl);
        }
        p += n;
    }
    return out;
}

/* Line i of rows, malloc'd, without its newline. */
static char *
line_of(const char *rows, int i)
{
    const char *p = rows;
    for (int k = 0; k < i; k++)
        p = strchr(p, '\n') + 1;
    return strndup(p, (size_t)(strchr(p, '\n') - p));
}

static void
test_audit__clean_rows_audit_clean(void **state)
{
    struct fx *f = *state;
    struct ldg_audit_report r;
    assert_int_equal(audit(f, f->rows, &r), 0);
    assert_int_equal(r.rows, 10);
    assert_int_equal(r.findings, 0);
    assert_string_equal(f->found, "");
}

static void
test_audit__garbage_line_is_a_finding(void **state)
{
    struct fx *f = *state;
    struct ldg_audit_report r;
    char *rows = with_line(f->rows, 4, "{\"seq\": \"4\", \"entry\": trunc");

    /* before: a line that did not parse was skipped, and its seq was
     * reported missing at best; now the line itself is named */
    assert_int_equal(audit(f, rows, &r), LDG_ETAMPER);
    assert_non_null(strstr(f->found, "line 5 of the answer: not a row"));
    assert_int_equal(r.missing, 1); /* and seq 4 is not in the answer */
    free(rows);
    rows = with_line(f->rows, 2, "{\"seq\": \"2x\"}");
    assert_int_equal(audit(f, rows, &r), LDG_ETAMPER);
    assert_non_null(strstr(f->found, "no numeric \"seq\""));
    free(rows);
}

static void
test_audit__order_missing_and_altered(void **state)
{
    struct fx *f = *state;
    struct ldg_audit_report r;
    char *l3 = line_of(f->rows, 3), *rows, *p;

    /* seq 3 twice (in place of 5): a duplicate, and 5 missing */
    rows = with_line(f->rows, 5, l3);
    assert_int_equal(audit(f, rows, &r), LDG_ETAMPER);
    assert_non_null(strstr(f->found, "seq 3: row out of order"));
    assert_non_null(strstr(f->found, "seq 5: in the log but missing"));
    free(rows);
    /* the last row deleted */
    rows = with_line(f->rows, 9, NULL);
    assert_int_equal(audit(f, rows, &r), LDG_ETAMPER);
    assert_non_null(strstr(f->found, "seq 9: in the log but missing"));
    free(rows);
    /* a column altered */
    p = strstr(l3, "x.test.n");
    assert_non_null(p);
    p[0] = 'y';
    rows = with_line(f->rows, 3, l3);
    assert_int_equal(audit(f, rows, &r), LDG_ETAMPER);
    assert_non_null(strstr(f->found, "seq 3: column 'type'"));
    free(rows);
    free(l3);
    /* the body altered: it no longer matches its commitment */
    {
        char *l1 = line_of(f->rows, 1);
        p = strstr(l1, "1.5");
        assert_non_null(p);
        p[0] = '2';
        rows = with_line(f->rows, 1, l1);
        assert_int_equal(audit(f, rows, &r), LDG_ETAMPER);
        assert_non_null(
            strstr(f->found, "seq 1: body disagrees with its commitment"));
        free(rows);
        free(l1);
    }
    /* parent, time and body_root, which queries read and the audit did
     * not check (a row's parent could be changed without a finding) */
    {
        static const char *const alter[][3] = {
            {"\"parent\":-1", "\"parent\":2", "seq 4: column 'parent'"},
            {"\"time\":", "\"time\":1", "seq 4: column 'time'"},
            {"\"body_root\":\"", "\"body_root\":\"", "seq 4: column 'body_root'"},
        };
        for (size_t k = 0; k < sizeof alter / sizeof alter[0]; k++) {
            char *l4 = line_of(f->rows, 4), buf[8192];
            p = strstr(l4, alter[k][0]);
            assert_non_null(p);
            snprintf(buf, sizeof buf, "%.*s%s%s", (int)(p - l4), l4,
                     alter[k][1], p + strlen(alter[k][0]));
            if (k == 2) { /* the root's first hex digit, changed */
                char *h = buf + (p - l4) + strlen(alter[k][1]);
                *h = *h == '0' ? '1' : '0';
            }
            rows = with_line(f->rows, 4, buf);
            assert_int_equal(audit(f, rows, &r), LDG_ETAMPER);
            if (strstr(f->found, alter[k][2]) == NULL)
                fail_msg("%s", f->found);
            free(rows);
            free(l4);
        }
    }
    /* an entry that is not the mirrored leaf */
    {
        char *l2 = line_of(f->rows, 2);
        p = strstr(l2, "\"entry\":\"");
        assert_non_null(p);
        p += 20;
        *p = *p == '0' ? '1' : '0';
        rows = with_line(f->rows, 2, l2);
        assert_int_equal(audit(f, rows, &r), LDG_ETAMPER);
        assert_non_null(strstr(f->found, "seq 2: entry does not hash"));
        free(rows);
        free(l2);
    }
}

/* A row marked erased carries no body: a forged body under the flag
 * (which skips the body's check) is a finding; an empty one is not. */
static void
test_audit__erased_row_carries_no_body(void **state)
{
    struct fx *f = *state;
    struct ldg_audit_report r;
    char *l1 = line_of(f->rows, 1), *rows, *p, *e, *s;
    char buf[8192];

    p = strstr(l1, "\"body_erased\":0");
    assert_non_null(p);
    p[14] = '1';
    rows = with_line(f->rows, 1, l1);
    assert_int_equal(audit(f, rows, &r), LDG_ETAMPER);
    assert_non_null(strstr(f->found, "seq 1: marked body_erased but carries"));
    free(rows);
    /* the same row as an erasure ships it: body '' and salts {} */
    e = strstr(l1, "\"body\":\"");
    s = strstr(l1, ",\"body_erased\"");
    assert_non_null(e);
    assert_non_null(s);
    snprintf(buf, sizeof buf, "%.*s\"body\":\"\",\"body_salts\":\"{}\"%s",
             (int)(e - l1), l1, s);
    rows = with_line(f->rows, 1, buf);
    assert_int_equal(audit(f, rows, &r), 0);
    assert_string_equal(f->found, "");
    free(rows);
    free(l1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_audit__clean_rows_audit_clean,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit__garbage_line_is_a_finding,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit__order_missing_and_altered,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit__erased_row_carries_no_body,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
