/*
 * fuzz.h — what every fuzz target's file shares: the entry point's name
 * and the invariant check. Under libFuzzer (tests/fuzz/run.sh) FUZZ_ENTRY
 * is LLVMFuzzerTestOneInput and a broken invariant aborts; a unit test
 * that replays a corpus through a target defines both before including
 * the target's file (FUZZ_ENTRY its own name, FUZZ_ASSERT a cmocka
 * assertion naming the corpus file). No include guard: a test that
 * includes several targets defines FUZZ_ENTRY anew before each.
 */
#include <stdlib.h>

#ifndef FUZZ_ENTRY
#define FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif
#ifndef FUZZ_ASSERT
#define FUZZ_ASSERT(c)                                                         \
    do {                                                                       \
        if (!(c))                                                              \
            abort();                                                           \
    } while (0)
#endif
