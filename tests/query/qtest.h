/*
 * qtest.h — helpers for the query tests (included by each test file).
 */
#ifndef LDG_QTEST_H
#define LDG_QTEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "query/query.h"
#include "tests/support/support.h"

/* Appends one event with an explicit envelope; returns its seq. */
static inline uint64_t
q_append(struct ldg_ledger *l, const char *type, const char *subject,
         const char *run, const char *actor, const char *body)
{
    struct ldg_event_in in;
    json_error_t je;
    uint64_t seq = 0;
    json_t *b = json_loads(body ? body : "{}", 0, &je);
    int rc;
    if (b == NULL)
        fail_msg("bad test body %s: %s", body, je.text);
    memset(&in, 0, sizeof in);
    in.type = type;
    in.subject = subject;
    in.run = run;
    in.actor = actor;
    in.body = b;
    rc = ldg_append(l, &in, &seq);
    if (rc != 0)
        fail_msg("append %s: %s (%s)", type, ldg_strerror(rc), ldg_errmsg(l));
    json_decref(b);
    return seq;
}

/* Runs a query and collects the seqs (at most cap). Returns the count, or
 * a negative code from compile (with err) or the iterator. */
static inline int
q_collect(struct ldg_ledger *l, int n, const char *const *terms,
          const char *since, const char *until, unsigned flags, uint64_t *out,
          size_t cap, char *err, size_t errcap)
{
    struct ldg_query *q = NULL;
    struct ldg_query_iter *it = NULL;
    struct ldg_txn *t = NULL;
    struct ldg_event ev;
    size_t k = 0;
    int rc;

    rc = ldg_query_compile(&q, n, (char *const *)(uintptr_t)terms, since, until,
                           err, errcap);
    if (rc < 0)
        return rc;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    rc = ldg_query_iter_new(&it, q, t, flags);
    if (rc == 0) {
        while ((rc = ldg_query_iter_next(it, &ev)) == 0) {
            if (k < cap)
                out[k] = ev.seq;
            k++;
        }
        if (rc == LDG_ENOTFOUND)
            rc = 0;
    }
    ldg_query_iter_free(it);
    ldg_txn_abort(t);
    ldg_query_free(q);
    return rc < 0 ? rc : (int)k;
}

/* Ingests examples/pdf-ops.jsonl (seq 1..31 after genesis 0). */
static inline void
q_load_pdf_ops(struct ldg_ledger *l)
{
    FILE *f = fopen("examples/pdf-ops.jsonl", "r");
    char line[8192];
    assert_non_null(f);
    while (fgets(line, sizeof line, f) != NULL) {
        json_t *o = json_loads(line, 0, NULL), *b;
        struct ldg_event_in in;
        assert_non_null(o);
        memset(&in, 0, sizeof in);
        in.type = json_string_value(json_object_get(o, "type"));
        in.subject = json_string_value(json_object_get(o, "subject"));
        b = json_object_get(o, "body");
        in.body = b;
        if (ldg_append(l, &in, NULL) != 0)
            fail_msg("append: %s", ldg_errmsg(l));
        json_decref(o);
    }
    fclose(f);
}

#define TERMS(...) ((const char *const[]){__VA_ARGS__})
#define NTERMS(...)                                                            \
    ((int)(sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)))

#endif
