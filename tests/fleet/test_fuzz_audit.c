/*
 * test_fuzz_audit.c — replays tests/fuzz/corpus_audit/ through fuzz_audit's own
 * harness (the ClickHouse rows `ledger audit-central` decodes), so that every input the fuzzer kept is checked
 * by make check too: no crash, and the harness's own invariants (it aborts
 * where the code under it is wrong). The harness is compiled in whole.
 */
#include "tests/fuzz/fuzz_audit.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tests/support/support.h"

static char current[4096];

static void
one(const uint8_t *data, size_t size)
{
    (void)LLVMFuzzerTestOneInput(data, size);
}

static void
test_fuzz_audit__corpus_holds_invariants(void **state)
{
    (void)state;
    assert_true(t_corpus_each("tests/fuzz/corpus_audit", one, current,
                              sizeof current) >= 100);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fuzz_audit__corpus_holds_invariants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
