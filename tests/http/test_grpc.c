/*
 * test_grpc.c — http/grpc.c without sockets: the fuzz target's corpus
 * (tests/fuzz/corpus_grpc/: what Node.js's HTTP/2 client sent for real
 * OTLP/gRPC calls, whole, gzip'd, two at once, two messages in one call,
 * a length declared over the limit) through the target's own checks
 * (tests/fuzz/fuzz_grpc.c) under make check, with the calls each seed
 * hands over counted; and the frames the HTTP port answers an HTTP/2
 * preface with.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static char current[2400];
#define FUZZ_ASSERT(c)                                                         \
    do {                                                                       \
        if (!(c))                                                              \
            fail_msg("%s: invariant %s (%s:%d) does not hold", current, #c,    \
                     __FILE__, __LINE__);                                      \
    } while (0)
#define FUZZ_ENTRY fuzz_grpc_one
#include "tests/fuzz/fuzz_grpc.c"

static int
by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* What the seeds hand over, by kind. */
static unsigned handed[4];

static void
counting(void *ctx, struct ldg_grpcd_call *call, enum ldg_grpcd_request what)
{
    handed[what]++;
    fuzz_grpc_handle(ctx, call, what);
}

static size_t
seed(const char *name, unsigned char *buf, size_t cap)
{
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    char path[512];
    FILE *f;
    size_t n;
    snprintf(path, sizeof path, "tests/fuzz/corpus_grpc/%s", name);
    snprintf(current, sizeof current, "%s", path);
    f = fopen(path, "rb");
    assert_non_null(f);
    memcpy(buf, preface, sizeof preface - 1);
    n = fread(buf + sizeof preface - 1, 1, cap - sizeof preface, f);
    fclose(f);
    return n + sizeof preface - 1;
}

static void
test_grpc__corpus_holds_invariants(void **state)
{
    static uint8_t buf[1 << 20];
    struct dirent **names;
    int n, ran = 0;
    (void)state;
    n = scandir("tests/fuzz/corpus_grpc", &names, NULL, by_name);
    assert_true(n > 0);
    for (int i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.') {
            size_t len = seed(names[i]->d_name, buf, sizeof buf);
            fuzz_grpc_one(buf + 24, len - 24);
            ran++;
        }
        free(names[i]);
    }
    free(names);
    assert_true(ran >= 6);
}

/* Each seed hands over the calls its client made, of the kind it was. */
static void
expect(const char *name, unsigned ok, unsigned too_big, unsigned malformed)
{
    static unsigned char buf[1 << 16];
    size_t len = seed(name, buf, sizeof buf);
    memset(handed, 0, sizeof handed);
    assert_int_equal(httpd_grpc_fuzz_one(buf, len, 1 << 20, counting, NULL),
                     0);
    if (handed[LDG_GRPCD_OK] != ok || handed[LDG_GRPCD_TOO_BIG] != too_big ||
        handed[LDG_GRPCD_MALFORMED] != malformed)
        fail_msg("%s: %u ok, %u too big, %u malformed", name,
                 handed[LDG_GRPCD_OK], handed[LDG_GRPCD_TOO_BIG],
                 handed[LDG_GRPCD_MALFORMED]);
}

static void
test_grpc__seeds_hand_over_their_calls(void **state)
{
    (void)state;
    expect("agent", 1, 0, 0);
    expect("agent_gzip", 1, 0, 0);
    expect("logs", 1, 0, 0);
    expect("two_streams", 2, 0, 0);
    expect("twice", 0, 0, 1);
    /* 5000 bytes declared, the message as sent is shorter: the length is
     * checked first (over a 1 KiB limit), then cut short */
    memset(handed, 0, sizeof handed);
    {
        static unsigned char buf[1 << 16];
        size_t len = seed("declared_big", buf, sizeof buf);
        assert_int_equal(httpd_grpc_fuzz_one(buf, len, 1024, counting, NULL),
                         0);
        assert_int_equal(handed[LDG_GRPCD_TOO_BIG], 1);
        len = seed("declared_big", buf, sizeof buf);
        memset(handed, 0, sizeof handed);
        assert_int_equal(
            httpd_grpc_fuzz_one(buf, len, 1 << 20, counting, NULL), 0);
        assert_int_equal(handed[LDG_GRPCD_MALFORMED], 1);
    }
}

static void
test_grpc__goaway_frames_name_the_reason(void **state)
{
    unsigned char f[512];
    const char *why = "use --otlp-grpc";
    size_t n = ldg_grpcd_goaway_frames(why, f, sizeof f);
    (void)state;
    /* SETTINGS (type 4, stream 0), then GOAWAY (type 7): last stream 0,
     * HTTP_1_1_REQUIRED (0xd), the debug data */
    assert_int_equal(n, 9 + 9 + 8 + strlen(why));
    assert_int_equal(f[3], 4);
    assert_int_equal(f[9 + 3], 7);
    assert_int_equal((f[9] << 16) | (f[10] << 8) | f[11], 8 + strlen(why));
    assert_memory_equal(f + 9 + 9, "\0\0\0\0\0\0\0\x0d", 8);
    assert_memory_equal(f + 9 + 9 + 8, why, strlen(why));
    assert_int_equal(ldg_grpcd_goaway_frames(why, f, 20), 0); /* no room */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grpc__corpus_holds_invariants),
        cmocka_unit_test(test_grpc__seeds_hand_over_their_calls),
        cmocka_unit_test(test_grpc__goaway_frames_name_the_reason),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
