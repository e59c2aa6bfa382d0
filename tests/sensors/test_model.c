/*
 * test_model.c — hashing files (known answers), Ollama name → manifest →
 * blob resolution on a fake store, digest comparison, bad names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ledger/module.h"
#include "util/util.h"
#include "sensors/sensors.h"

static char root[256];

static void
put(const char *rel, const char *text)
{
    char path[1024], cmd[1200];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", path);
    assert_int_equal(system(cmd), 0);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int
setup(void **state)
{
    snprintf(root, sizeof root, "%s/sens.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(root));
    return 0;
}

static int
teardown(void **state)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd);
}

/* SHA-256("abc") */
#define ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static void
test_model__file_sha256_known_answer(void **state)
{
    char d[72], err[256], path[512];
    uint64_t n = 0;
    put("abc", "abc");
    snprintf(path, sizeof path, "%s/abc", root);
    assert_int_equal(ldg_file_sha256(path, d, &n, NULL, NULL, err, 256), 0);
    assert_string_equal(d, "sha256:" ABC);
    assert_int_equal(n, 3);
    snprintf(path, sizeof path, "%s/none", root);
    assert_int_equal(ldg_file_sha256(path, d, &n, NULL, NULL, err, 256),
                     LDG_ENOTFOUND);
    assert_non_null(strstr(err, "none"));
    /* Empty file. */
    put("empty", "");
    snprintf(path, sizeof path, "%s/empty", root);
    assert_int_equal(ldg_file_sha256(path, d, &n, NULL, NULL, err, 256), 0);
    assert_string_equal(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649"
                           "b934ca495991b7852b855");
}

static void
test_model__digest_same(void **state)
{
    assert_true(ldg_digest_same("sha256:" ABC, ABC));
    assert_true(ldg_digest_same(ABC, "sha256:BA7816BF8F01CFEA414140DE5DAE2223B"
                                     "00361A396177A9CB410FF61F20015AD"));
    assert_false(ldg_digest_same(ABC, "unreported"));
    assert_false(ldg_digest_same(NULL, ABC));
    assert_false(ldg_digest_same("sha256:" ABC "00", ABC));
}

static void
test_model__ollama_resolve(void **state)
{
    struct ldg_ollama_model m;
    char err[512], man[512];
    snprintf(man, sizeof man,
             "{\"schemaVersion\": 2, \"layers\": [{\"mediaType\": "
             "\"application/vnd.ollama.image.template\", \"digest\": "
             "\"sha256:%064d\", \"size\": 1}, {\"mediaType\": "
             "\"application/vnd.ollama.image.model\", \"digest\": "
             "\"sha256:" ABC "\", \"size\": 3}]}",
             0);
    put("manifests/registry.ollama.ai/library/tiny/q4", man);
    put("blobs/sha256-" ABC, "abc");
    assert_int_equal(ldg_ollama_resolve(root, "tiny:q4", &m, err, sizeof err),
                     0);
    assert_string_equal(m.layer_digest, "sha256:" ABC);
    assert_int_equal(m.layer_size, 3);
    assert_non_null(strstr(m.blob_path, "/blobs/sha256-" ABC));
    assert_int_equal(strncmp(m.manifest_digest, "sha256:", 7), 0);
    /* user/name and host/ns/name, default tag latest */
    put("manifests/registry.ollama.ai/me/tiny/latest", man);
    assert_int_equal(ldg_ollama_resolve(root, "me/tiny", &m, err, sizeof err),
                     0);
    put("manifests/hf.co/org/repo/Q8", man);
    assert_int_equal(
        ldg_ollama_resolve(root, "hf.co/org/repo:Q8", &m, err, sizeof err), 0);
    /* missing, malformed, no model layer, bad names */
    assert_int_equal(ldg_ollama_resolve(root, "nope", &m, err, sizeof err),
                     LDG_ENOTFOUND);
    assert_non_null(strstr(err, "no manifest at"));
    put("manifests/registry.ollama.ai/library/broken/latest", "{\"layers\": [");
    assert_int_equal(ldg_ollama_resolve(root, "broken", &m, err, sizeof err),
                     LDG_EBADINPUT);
    put("manifests/registry.ollama.ai/library/nolayer/latest",
        "{\"layers\": []}");
    assert_int_equal(ldg_ollama_resolve(root, "nolayer", &m, err, sizeof err),
                     LDG_ENOTFOUND);
    assert_int_equal(
        ldg_ollama_resolve(root, "../../etc/passwd", &m, err, sizeof err),
        LDG_EBADINPUT);
    assert_int_equal(ldg_ollama_resolve(root, "a/b/c/d", &m, err, sizeof err),
                     LDG_EBADINPUT);
    assert_int_equal(ldg_ollama_resolve(root, "x:", &m, err, sizeof err),
                     LDG_EBADINPUT);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model__file_sha256_known_answer),
        cmocka_unit_test(test_model__digest_same),
        cmocka_unit_test(test_model__ollama_resolve),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
