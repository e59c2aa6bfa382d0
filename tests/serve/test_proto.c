/*
 * test_proto.c — serve/proto.c: the answer lines of the serve protocol
 * (docs/PROTOCOL.md) and the peer's credentials, plus the request-line
 * fuzz corpus (tests/fuzz/corpus_serve/) through the fuzz target's own
 * entry point.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

static char current[2400];
#define FUZZ_ASSERT(c)                                                         \
    do {                                                                       \
        if (!(c))                                                              \
            fail_msg("%s: invariant %s (%s:%d) does not hold", current, #c,    \
                     __FILE__, __LINE__);                                      \
    } while (0)
#define FUZZ_ENTRY fuzz_serve_one
#include "tests/fuzz/fuzz_serve.c"
#undef FUZZ_ENTRY
#include "tests/support/support.h"

static void
test_proto__ack_and_error_lines(void **state)
{
    size_t len;
    char *l;
    (void)state;
    l = serve_ack_line("a\"1", 3, 41, 0, 0, &len);
    assert_string_equal(l, "{\"id\":\"a\\\"1\",\"seq\":\"41\"}\n");
    assert_int_equal(len, strlen(l));
    free(l);
    l = serve_ack_line(NULL, 0, 18446744073709551615ull, 0, 0, &len);
    assert_string_equal(l, "{\"seq\":\"18446744073709551615\"}\n");
    free(l);
    l = serve_ack_line("k", 1, 5, 1, 0, &len);
    assert_string_equal(l, "{\"id\":\"k\",\"seq\":\"5\",\"duplicate\":true}\n");
    free(l);
    /* every field that can differ, at the longest id */
    {
        char id[LDG_ID_MAX + 1], want[512];
        memset(id, 'x', LDG_ID_MAX);
        id[LDG_ID_MAX] = '\0';
        l = serve_ack_line(id, LDG_ID_MAX, UINT64_MAX, 1, 0x7f, &len);
        snprintf(want, sizeof want,
                 "{\"id\":\"%s\",\"seq\":\"18446744073709551615\","
                 "\"duplicate\":true,\"differs\":[\"type\",\"subject\","
                 "\"run\",\"parent\",\"actor\",\"time\",\"body\"]}\n",
                 id);
        assert_string_equal(l, want);
        assert_int_equal(len, strlen(want));
        free(l);
    }
    l = serve_ack_line("k", 1, 5, 1, LDG_DIFF_BODY, &len);
    assert_string_equal(l, "{\"id\":\"k\",\"seq\":\"5\",\"duplicate\":true,"
                           "\"differs\":[\"body\"]}\n");
    free(l);
    l = serve_error_line("k", 1, "field 'type': required", 65, &len);
    assert_string_equal(
        l, "{\"id\":\"k\",\"error\":\"field 'type': required\",\"code\":65}\n");
    free(l);
    /* control characters escaped, bytes that are not UTF-8 replaced */
    l = serve_error_line(NULL, 0, "a\nb\xff", 74, &len);
    assert_string_equal(l, "{\"error\":\"a\\nb?\",\"code\":74}\n");
    free(l);
}

static void
test_proto__peer_credentials(void **state)
{
    struct serve_peer p;
    int sv[2];
    (void)state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    serve_peer_get(sv[0], &p);
    assert_int_equal(p.ok, 1);
    assert_int_equal(p.pid, getpid());
    assert_int_equal(p.uid, getuid());
    assert_int_equal(p.gid, getgid());
    {
        char self[1024];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        assert_true(n > 0);
        self[n] = '\0';
        assert_string_equal(p.exe, self);
    }
    close(sv[0]);
    close(sv[1]);
    serve_peer_get(-1, &p);
    assert_int_equal(p.ok, 0);
}

static void
test_proto__unit_from_cgroup(void **state)
{
    char u[64];
    const char *sys = "0::/system.slice/foundry.service\n";
    const char *user = "0::/user.slice/user-1000.slice/user@1000.service/"
                       "app.slice/agent.service\n";
    const char *scope = "1:name=systemd:/x\n0::/user.slice/user-1000.slice/"
                        "session-3.scope\n";
    (void)state;
    serve_cgroup_unit(sys, strlen(sys), u, sizeof u);
    assert_string_equal(u, "foundry.service");
    serve_cgroup_unit(user, strlen(user), u, sizeof u);
    assert_string_equal(u, "agent.service");
    serve_cgroup_unit(scope, strlen(scope), u, sizeof u);
    assert_string_equal(u, "session-3.scope");
    serve_cgroup_unit("0::/\n", 5, u, sizeof u);
    assert_string_equal(u, "");
    serve_cgroup_unit("4:memory:/a.service\n", 20, u, sizeof u);
    assert_string_equal(u, ""); /* only the unified hierarchy counts */
}

static void
serve_one(const uint8_t *data, size_t size)
{
    (void)fuzz_serve_one(data, size);
}

static void
test_proto__corpus_holds_invariants(void **state)
{
    (void)state;
    assert_true(t_corpus_each("tests/fuzz/corpus_serve", serve_one, current,
                              sizeof current) >= 7);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proto__ack_and_error_lines),
        cmocka_unit_test(test_proto__peer_credentials),
        cmocka_unit_test(test_proto__unit_from_cgroup),
        cmocka_unit_test(test_proto__corpus_holds_invariants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
