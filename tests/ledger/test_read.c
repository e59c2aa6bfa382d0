/*
 * test_read.c — ledger/read.c: the fast read paths (trusted decoding, the
 * stored leaf hash) give what the strict ones give.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "tests/support/support.h"

/* The fast read paths give what the strict ones give. */
static void
test_read__fast_read_paths_match_the_strict_ones(void **state)
{
    static const char *bodies[] = {
        "{}",
        "{\"s\":\"h\u00e9llo \\\"q\\\" \\\\ /\\n\\t\\u0001\\u001f\"}",
        "{\"f\":0.1,\"g\":1.0,\"h\":-2.5e-300,\"i\":-9223372036854775807,"
        "\"j\":9223372036854775807}",
        "{\"a\":[1,[2,{\"z\":null,\"b\":true,\"a\":false}]],\"o\":{\"k\":[]}}",
        "{\"big\":\"0123456789012345678901234567890123456789012345678901234567"
        "8901234567890123456789012345678901234567890123456789012345678901234567"
        "8901234567890123456789012345678901234567890123456789012345678901234567"
        "8901234567890123456789012345678901234567890123456789012345678901234567"
        "8901234567890123456789012345678901234567890123456789012345678901234567"
        "89012345678901234567890123456789012345678901234567890123456789\","
        "\"big2\":\"0123456789012345678901234567890123456789012345678901234567"
        "8901234567890123456789012345678901234567890123456789012345678901234567"
        "8901234567890123456789012345678901234567890123456789012345678901234567"
        "89012345678901234567890123456789012345678901234567890123456789\"}",
    };
    char dir[256], *buf = NULL;
    size_t len = 0, cap = 0;
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_txn *t;
    (void)state;

    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        uint64_t seq = t_append(l, "x.t", bodies[i], NULL);
        struct ldg_event a, b;
        json_t *j;
        char *want;
        assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
        assert_int_equal(ldg_event_get(t, seq, &a), 0);
        assert_int_equal(ldg_event_get_ex(t, seq, &b, LDG_DECODE_TRUSTED), 0);
        assert_memory_equal(a.leaf, b.leaf, 32);
        assert_string_equal(a.type, b.type);
        assert_int_equal(a.ts_ns, b.ts_ns);
        assert_int_equal(ldg_body_get(t, seq, &j), 0);
        want = json_dumps(j, JSON_COMPACT);
        len = 0;
        assert_int_equal(ldg_body_json_append(t, seq, &buf, &len, &cap), 0);
        assert_string_equal(buf, want);
        assert_int_equal(len, strlen(want));
        free(want);
        json_decref(j);
        ldg_txn_abort(t);
    }
    /* appends after what is there */
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    len = 0;
    assert_int_equal(ldg_body_json_append(t, 1, &buf, &len, &cap), 0);
    assert_int_equal(ldg_body_json_append(t, 1, &buf, &len, &cap), 0);
    assert_string_equal(buf, "{}{}");
    ldg_txn_abort(t);
    free(buf);
    ldg_close(l);
    t_rmrf(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read__fast_read_paths_match_the_strict_ones),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
