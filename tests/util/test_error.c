/*
 * test_error.c — the error codes' names and the exit-status policy
 * (util/error.c): every code has a name, and each maps to the status
 * docs/OUTPUT.md promises.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/error.h"

static void
test_error__every_code_has_a_name(void **state)
{
    (void)state;
    for (int c = LDG_ETXNFULL; c <= LDG_OK; c++)
        assert_string_not_equal(ldg_strerror(c), "unknown error");
    assert_string_equal(ldg_strerror(1), "unknown error");
    assert_string_equal(ldg_strerror(LDG_ETXNFULL - 1), "unknown error");
}

static void
test_error__exit_codes_are_the_policy(void **state)
{
    static const struct {
        int code, status;
    } want[] = {
        {LDG_OK, 0},        {LDG_ETAMPER, 1},    {LDG_EBADSIG, 1},
        {LDG_EBADPROOF, 1}, {LDG_EINVAL, 64},    {LDG_EBADINPUT, 65},
        {LDG_ETOOBIG, 65},  {LDG_ECORRUPT, 65},  {LDG_EVERSION, 65},
        {LDG_EERASED, 65},  {LDG_ENOTFOUND, 66}, {LDG_ENOMEM, 71},
        {LDG_EEXIST, 73},   {LDG_EIO, 74},       {LDG_EFULL, 74},
        {LDG_EBUSY, 75},    {LDG_ENET, 74},      {LDG_ETIMEOUT, 74},
        {LDG_EHTTP, 74},    {LDG_ESTALE, 74},    {LDG_EDUPLICATE, 74},
        {LDG_EKEY, 77},     {LDG_EPRUNED, 66},   {LDG_ETXNFULL, 74},
        {-1000, 74},
    };
    (void)state;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        if (ldg_exit_code(want[i].code) != want[i].status)
            fail_msg("code %d (%s): exit %d, want %d", want[i].code,
                     ldg_strerror(want[i].code), ldg_exit_code(want[i].code),
                     want[i].status);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error__every_code_has_a_name),
        cmocka_unit_test(test_error__exit_codes_are_the_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
