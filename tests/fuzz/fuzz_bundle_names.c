/*
 * fuzz_bundle_names.c — libFuzzer target for the bundle reader's member
 * paths: bundle_name_kind (export/archive.c), the allow-list every member
 * name of a bundle passes before it is read or extracted. Arbitrary bytes
 * in (as a NUL-terminated name); invariants for every name it accepts:
 *
 *   - printable ASCII only, not absolute, no "." or ".." component, no
 *     empty component, at most one '/' (extraction creates one level);
 *   - a numbered name (entries/, proofs/, bodies/) is exactly
 *     PREFIX<seq>SUFFIX with seq in canonical decimal: printing the seq
 *     back gives the same name (no leading zeros, no overflow);
 *   - keys/<16 lowercase hex>.json and the fixed names are what they say.
 *
 * Build and run with tests/fuzz/run_bundle.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/export_int.h"

#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char name[512], back[600];
    const char *slash;
    enum bname k;
    uint64_t seq = UINT64_MAX;

    if (size >= sizeof name)
        size = sizeof name - 1;
    memcpy(name, data, size);
    name[size] = '\0';
    k = bundle_name_kind(name, &seq);
    if (k == BN_BAD)
        return 0;
    FUZZ_ASSERT(name[0] != '\0' && name[0] != '/');
    for (const char *p = name; *p; p++)
        FUZZ_ASSERT(*p > 0x20 && *p < 0x7f);
    slash = strchr(name, '/');
    FUZZ_ASSERT(slash == NULL || strchr(slash + 1, '/') == NULL);
    FUZZ_ASSERT(slash == NULL || (slash != name && slash[1] != '\0'));
    FUZZ_ASSERT(strcmp(name, ".") != 0 && strcmp(name, "..") != 0);
    FUZZ_ASSERT(strncmp(name, "../", 3) != 0 && strstr(name, "/..") == NULL &&
                strncmp(name, "./", 2) != 0 && strstr(name, "/./") == NULL);
    switch (k) {
    case BN_ENTRY:
        snprintf(back, sizeof back, "entries/%llu.entry",
                 (unsigned long long)seq);
        FUZZ_ASSERT(strcmp(back, name) == 0);
        break;
    case BN_PROOF:
        snprintf(back, sizeof back, "proofs/%llu.proof",
                 (unsigned long long)seq);
        FUZZ_ASSERT(strcmp(back, name) == 0);
        break;
    case BN_BODY:
        snprintf(back, sizeof back, "bodies/%llu.json",
                 (unsigned long long)seq);
        FUZZ_ASSERT(strcmp(back, name) == 0);
        break;
    case BN_SEAL:
        snprintf(back, sizeof back, "seals/%llu.seal", (unsigned long long)seq);
        FUZZ_ASSERT(strcmp(back, name) == 0);
        break;
    case BN_SEAL_PROOF:
        snprintf(back, sizeof back, "sealproofs/%llu.proof",
                 (unsigned long long)seq);
        FUZZ_ASSERT(strcmp(back, name) == 0);
        break;
    case BN_KEY:
        FUZZ_ASSERT(strncmp(name, "keys/", 5) == 0 && strlen(name) == 26);
        for (int i = 5; i < 21; i++)
            FUZZ_ASSERT((name[i] >= '0' && name[i] <= '9') ||
                        (name[i] >= 'a' && name[i] <= 'f'));
        FUZZ_ASSERT(strcmp(name + 21, ".json") == 0);
        break;
    case BN_MANIFEST:
        FUZZ_ASSERT(strcmp(name, B_MANIFEST) == 0);
        break;
    case BN_MANIFEST_SIG:
        FUZZ_ASSERT(strcmp(name, B_MANIFEST_SIG) == 0);
        break;
    case BN_COSIGNED:
        FUZZ_ASSERT(strcmp(name, "cosigned/checkpoint") == 0);
        break;
    case BN_COSIGNED_PROOF:
        FUZZ_ASSERT(strcmp(name, "cosigned/consistency") == 0);
        break;
    default:
        FUZZ_ASSERT(slash == NULL || k == BN_CHECKPOINT || k == BN_VKEY ||
                    k == BN_EVENTS || k == BN_STATE || k == BN_STATE_NOTE ||
                    k == BN_MAGIC);
        break;
    }
    return 0;
}
