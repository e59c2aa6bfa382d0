/*
 * test_buf.c — the bounded growable buffer (util/buf.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ledger/module.h"
#include "util/util.h"

static void
test_buf__appends_and_keeps_a_nul(void **state)
{
    struct ldg_buf b = {0};
    (void)state;
    ldg_buf_add(&b, "ab", 2);
    ldg_buf_puts(&b, "cd");
    ldg_buf_printf(&b, "-%d-%s", 42, "x");
    assert_int_equal(b.err, 0);
    assert_int_equal(b.len, 9);
    assert_string_equal(b.s, "abcd-42-x");
    ldg_buf_release(&b);
    assert_null(b.p);
    assert_int_equal(b.len, 0);
}

static void
test_buf__grows_past_many_doublings(void **state)
{
    struct ldg_buf b;
    char chunk[1000];
    (void)state;
    memset(chunk, 'z', sizeof chunk);
    ldg_buf_init(&b, 0);
    for (int i = 0; i < 1000; i++)
        ldg_buf_add(&b, chunk, sizeof chunk);
    assert_int_equal(b.err, 0);
    assert_int_equal(b.len, 1000000);
    assert_true(b.cap > b.len);
    assert_int_equal(b.p[999999], 'z');
    assert_int_equal(b.p[1000000], '\0');
    ldg_buf_release(&b);
}

static void
test_buf__refuses_past_the_ceiling_and_stays_refused(void **state)
{
    struct ldg_buf b;
    (void)state;
    ldg_buf_init(&b, 10);
    ldg_buf_add(&b, "0123456789", 10); /* exactly the ceiling: fine */
    assert_int_equal(b.err, 0);
    assert_true(b.cap <= 11);
    ldg_buf_add(&b, "x", 1);
    assert_int_equal(b.err, LDG_ETOOBIG);
    assert_int_equal(b.len, 10);
    /* sticky: nothing more goes in, even what would fit */
    b.len = 0;
    ldg_buf_add(&b, "y", 1);
    assert_int_equal(b.len, 0);
    assert_null(ldg_buf_room(&b, 1));
    ldg_buf_release(&b);
    assert_int_equal(b.max, 10); /* release keeps the ceiling */
    assert_int_equal(b.err, 0);
}

static void
test_buf__room_then_commit(void **state)
{
    struct ldg_buf b = {0};
    uint8_t *o;
    (void)state;
    o = ldg_buf_room(&b, 3);
    assert_non_null(o);
    memcpy(o, "abc", 3);
    b.len += 3;
    assert_true(b.cap >= 4);
    ldg_buf_add(&b, "d", 1);
    assert_string_equal(b.s, "abcd");
    ldg_buf_release(&b);
}

static void
test_buf__detach_hands_over_the_text(void **state)
{
    struct ldg_buf b = {0};
    size_t n = 0;
    char *s;
    (void)state;
    assert_null(ldg_buf_detach(&b, &n)); /* nothing added */
    ldg_buf_puts(&b, "hello");
    s = ldg_buf_detach(&b, &n);
    assert_string_equal(s, "hello");
    assert_int_equal(n, 5);
    assert_null(b.p);
    free(s);
    ldg_buf_init(&b, 2);
    ldg_buf_puts(&b, "toolong");
    assert_null(ldg_buf_detach(&b, &n)); /* an error: nothing handed out */
    assert_null(b.p);
}

static void
test_buf__consume_drops_from_the_front(void **state)
{
    struct ldg_buf b;
    size_t cap;
    (void)state;
    ldg_buf_init(&b, 16);
    ldg_buf_consume(&b, 3); /* nothing held: nothing to do */
    assert_null(b.p);
    ldg_buf_puts(&b, "abcdefgh");
    cap = b.cap;
    ldg_buf_consume(&b, 0);
    assert_string_equal(b.s, "abcdefgh");
    ldg_buf_consume(&b, 3);
    assert_int_equal(b.len, 5);
    assert_string_equal(b.s, "defgh"); /* still a C string */
    assert_int_equal(b.cap, cap);      /* the memory is kept */
    /* the room consumed counts again under the ceiling: 5 + 11 = 16 */
    ldg_buf_puts(&b, "ijklmnopqrs");
    assert_int_equal(b.err, 0);
    assert_string_equal(b.s, "defghijklmnopqrs");
    cap = b.cap;
    ldg_buf_consume(&b, 100); /* more than held: all of it */
    assert_int_equal(b.len, 0);
    assert_string_equal(b.s, "");
    assert_int_equal(b.cap, cap);
    ldg_buf_add(&b, "x", 1);
    assert_string_equal(b.s, "x");
    ldg_buf_release(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf__appends_and_keeps_a_nul),
        cmocka_unit_test(test_buf__grows_past_many_doublings),
        cmocka_unit_test(test_buf__refuses_past_the_ceiling_and_stays_refused),
        cmocka_unit_test(test_buf__room_then_commit),
        cmocka_unit_test(test_buf__detach_hands_over_the_text),
        cmocka_unit_test(test_buf__consume_drops_from_the_front),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
