/*
 * fuzz_bundle.c — libFuzzer target for the bundle reader and verifier
 * (export/archive.c, export/verify*.c, the core's proof parser): arbitrary
 * bytes in, no crash, no leak, no undefined behaviour, bounded memory.
 *
 * The first byte picks the layer to aim at:
 *   even: the rest is the file as is (zstd framing, then everything);
 *   odd:  the rest is the *decompressed* archive, compressed here first,
 *         so mutations reach tar parsing, names, JSON, proofs and keys
 *         instead of dying at the zstd checksum.
 *
 * Build and run with tests/fuzz/run_bundle.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "export/export.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ldg_bundle_verify_opts o;
    struct ldg_bundle_report r;

    if (size == 0)
        return 0;
    memset(&o, 0, sizeof o);
    o.insecure_trust_bundle_key = 1; /* the bundle's own key: no anchor */
    o.threads = 1 + (data[0] >> 7);  /* sometimes the threaded path */
    o.limits.total_bytes = 32u << 20;
    o.limits.file_bytes = 4u << 20;
    o.limits.files = 20000;
    if (data[0] & 1) {
        size_t cap = ZSTD_compressBound(size - 1);
        uint8_t *z = malloc(cap ? cap : 1);
        size_t n;
        if (z == NULL)
            return 0;
        n = ZSTD_compress(z, cap, data + 1, size - 1, 1);
        if (!ZSTD_isError(n))
            (void)ldg_export_verify_mem(z, n, &o, &r);
        free(z);
    } else {
        (void)ldg_export_verify_mem(data + 1, size - 1, &o, &r);
    }
    return 0;
}
