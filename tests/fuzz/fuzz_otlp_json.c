/*
 * fuzz_otlp_json.c — libFuzzer target for the OTLP JSON decoder
 * (otlp/json.c) and the mapping (otlp/map.c); the first byte's choices
 * and the invariants are fuzz_otlp.h's.
 */
#include "tests/fuzz/fuzz_otlp.h"

#ifndef FUZZ_ENTRY
#define FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int
FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    fuzz_otlp_one(1, data, size);
    return 0;
}
