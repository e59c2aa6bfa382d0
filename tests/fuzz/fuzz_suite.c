/*
 * fuzz_suite.c — libFuzzer target for an eval suite file (evals/suite.c
 * and the PCRE2 compile in evals/assert.c): arbitrary bytes in; no crash,
 * no undefined behaviour, no leak, and either a suite with at least one
 * case whose assertions can be checked against a reply, or
 * LDG_EBADINPUT/LDG_ETOOBIG with a message that names "suite:" and a
 * line. tests/evals/test_suite.c runs every file of corpus_suite/ through
 * it under cmocka (FUZZ_ENTRY names the function there, FUZZ_ASSERT is a
 * cmocka assertion).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evals/evals.h"
#include "ledger/module.h"
#include "util/util.h"

#include "tests/fuzz/fuzz.h"

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int
FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    struct ldg_eval_suite *s = NULL;
    char err[512];
    int rc = ldg_eval_suite_parse(&s, "suite", (const char *)data, size, err,
                                  sizeof err);
    if (rc == 0) {
        FUZZ_ASSERT(s != NULL && ldg_eval_suite_cases(s) > 0);
        char why[256];
        for (size_t i = 0; i < ldg_eval_suite_cases(s) && i < 64; i++) {
            (void)ldg_eval_check(s, i, "{\"a\": [1, \"x\"]}", 15, why,
                                 sizeof why);
            (void)ldg_eval_check(s, i, (const char *)data,
                                 size < 4096 ? size : 4096, why, sizeof why);
        }
        json_t *t = ldg_eval_suite_threshold(s);
        FUZZ_ASSERT(t != NULL);
        json_decref(t);
        ldg_eval_suite_free(s);
    } else {
        FUZZ_ASSERT(s == NULL);
        FUZZ_ASSERT((rc == LDG_EBADINPUT || rc == LDG_ETOOBIG ||
                     rc == LDG_ENOMEM) &&
                    strncmp(err, "suite", 5) == 0);
    }
    return 0;
}
