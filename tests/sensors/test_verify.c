/*
 * test_verify.c — `model verify`'s decision (sensors/verify.c): a file
 * against --expect or the registered digest, a mismatch recorded, a file
 * with nothing to compare refused (nothing written), a bad digest and a
 * missing file refused; an Ollama model whose manifest and blob hold, one
 * whose blob was altered, one re-pointed since it was registered, one
 * not in the store; a llama.cpp model by the path it registered.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sensors/sensors.h"
#include "tests/support/support.h"

/* SHA-256("abc") */
#define ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static char dir[256], root[512];

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

static uint64_t
size(struct ldg_ledger *l)
{
    uint64_t n = 0;
    assert_int_equal(ldg_size(l, &n), 0);
    return n;
}

static const char *
str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static struct ldg_ledger *
fresh(void)
{
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    snprintf(root, sizeof root, "%s/store", dir);
    return l;
}

static void
test_verify__a_file(void **state)
{
    struct ldg_ledger *l = fresh();
    struct ldg_model_verify_opts o = {0};
    char path[600];
    json_t *b = NULL;
    uint64_t seq = 0, n;
    (void)state;
    put("w.gguf", "abc");
    snprintf(path, sizeof path, "%s/w.gguf", root);
    o.arg = path;
    n = size(l);
    /* nothing registered, nothing expected: refused, nothing written */
    assert_int_equal(ldg_model_verify(l, &o, &b, &seq), LDG_EINVAL);
    assert_null(b);
    assert_non_null(strstr(ldg_errmsg(l), "nothing to compare with: model "
                                          "'w.gguf' is not registered"));
    /* a digest that is none; a file that is not there */
    o.expect = "xyz";
    assert_int_equal(ldg_model_verify(l, &o, &b, &seq), LDG_EINVAL);
    o.expect = NULL;
    o.arg = "/nonexistent/x.gguf";
    assert_int_equal(ldg_model_verify(l, &o, &b, &seq), LDG_ENOTFOUND);
    assert_non_null(strstr(ldg_errmsg(l), "no such file"));
    assert_int_equal(size(l), n);
    /* --expect: a match, then a mismatch, both recorded */
    o.arg = path;
    o.name = "w";
    o.expect = "sha256:" ABC;
    assert_int_equal(ldg_model_verify(l, &o, &b, &seq), 0);
    assert_int_equal(seq, n);
    assert_string_equal(str(b, "model"), "w");
    assert_true(json_is_true(json_object_get(b, "ok")));
    assert_string_equal(str(b, "weights_digest"), "sha256:" ABC);
    assert_int_equal(json_integer_value(json_object_get(b, "bytes")), 3);
    json_decref(b);
    o.expect = "sha256:0000000000000000000000000000000000000000000000000000000"
               "000000000";
    assert_int_equal(ldg_model_verify(l, &o, &b, &seq), 1);
    assert_true(json_is_false(json_object_get(b, "ok")));
    assert_string_equal(str(b, "digest"), "sha256:" ABC);
    json_decref(b);
    /* the registered digest, when no --expect */
    t_append(l, LDG_EV_MODEL_REGISTERED,
             "{\"model\": \"w\", \"digest\": \"sha256:" ABC "\"}", NULL);
    o.expect = NULL;
    assert_int_equal(ldg_model_verify(l, &o, &b, &seq), 0);
    assert_string_equal(str(b, "expected"), "sha256:" ABC);
    json_decref(b);
    assert_int_equal(size(l), n + 4);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_verify__an_ollama_model(void **state)
{
    struct ldg_ledger *l = fresh();
    struct ldg_model_verify_opts o = {0};
    struct ldg_ollama_model m;
    char err[512], man[512], reg[256];
    json_t *b = NULL;
    uint64_t seq = 0, n;
    (void)state;
    snprintf(man, sizeof man,
             "{\"layers\": [{\"mediaType\": "
             "\"application/vnd.ollama.image.model\", \"digest\": "
             "\"sha256:" ABC "\", \"size\": 3}]}");
    put("manifests/registry.ollama.ai/library/tiny/latest", man);
    put("blobs/sha256-" ABC, "abc");
    assert_int_equal(ldg_ollama_resolve(root, "tiny", &m, err, sizeof err), 0);
    snprintf(reg, sizeof reg, "{\"model\": \"tiny\", \"digest\": \"%s\"}",
             m.manifest_digest);
    t_append(l, LDG_EV_MODEL_REGISTERED, reg, NULL);
    o.arg = "tiny";
    o.ollama_dir = root;
    /* the chain holds: the registered digest is recorded */
    assert_int_equal(ldg_model_verify(l, &o, &b, &seq), 0);
    assert_string_equal(str(b, "digest"), m.manifest_digest);
    assert_string_equal(str(b, "layer_digest"), "sha256:" ABC);
    assert_null(json_object_get(b, "detail"));
    json_decref(b);
    /* the blob altered */
    put("blobs/sha256-" ABC, "abd");
    assert_int_equal(ldg_model_verify(l, &o, &b, &seq), 1);
    assert_non_null(strstr(str(b, "detail"), "weights blob does not hash"));
    json_decref(b);
    /* re-pointed: the manifest is not the one registered */
    put("blobs/sha256-" ABC, "abc");
    t_append(l, LDG_EV_MODEL_REGISTERED,
             "{\"model\": \"tiny\", \"digest\": \"sha256:" ABC "\"}", NULL);
    assert_int_equal(ldg_model_verify(l, &o, &b, &seq), 1);
    assert_non_null(strstr(str(b, "detail"), "manifest does not hash"));
    json_decref(b);
    /* never registered: nothing to compare with, nothing written; with a
     * digest to expect, not in the store: nothing written either */
    n = size(l);
    o.arg = "nope";
    assert_int_equal(ldg_model_verify(l, &o, &b, &seq), LDG_EINVAL);
    assert_null(b);
    o.expect = "sha256:" ABC;
    assert_int_equal(ldg_model_verify(l, &o, &b, &seq), LDG_ENOTFOUND);
    assert_null(b);
    o.expect = NULL;
    assert_int_equal(size(l), n);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_verify__a_llamacpp_model_by_its_path(void **state)
{
    struct ldg_ledger *l = fresh();
    struct ldg_model_verify_opts o = {0};
    char reg[1024];
    json_t *b = NULL;
    uint64_t seq = 0;
    (void)state;
    put("m.gguf", "abc");
    snprintf(reg, sizeof reg,
             "{\"model\": \"lc\", \"digest\": \"sha256:" ABC
             "\", \"path\": \"%s/m.gguf\"}",
             root);
    t_append(l, LDG_EV_MODEL_REGISTERED, reg, NULL);
    o.arg = "lc";
    assert_int_equal(ldg_model_verify(l, &o, &b, &seq), 0);
    assert_non_null(strstr(str(b, "path"), "/m.gguf"));
    json_decref(b);
    put("m.gguf", "abcd");
    assert_int_equal(ldg_model_verify(l, &o, &b, &seq), 1);
    json_decref(b);
    assert_int_equal(ldg_model_verify(l, NULL, &b, &seq), LDG_EINVAL);
    ldg_close(l);
    t_rmrf(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verify__a_file),
        cmocka_unit_test(test_verify__an_ollama_model),
        cmocka_unit_test(test_verify__a_llamacpp_model_by_its_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
