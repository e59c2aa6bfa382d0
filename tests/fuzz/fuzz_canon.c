/*
 * fuzz_canon.c — differential libFuzzer target for the canonical check of
 * a stored body payload (the bytes after a body record's flag byte):
 * ldg_codec_fields_walk_shape (ledger/codec_canon.c, a walk over the
 * bytes that verify --full makes for every event) against
 * ldg_codec_fields_check_repack (ledger/codec_fields.c: msgpack-c unpacks
 * the payload, packs it again and compares the bytes, then checks the
 * payload's shape on the objects), the check verify made before. Both
 * must accept exactly the same inputs, and both refuse with LDG_ECORRUPT.
 * When they accept, the walk's slices cover the payload: each field's
 * name, then 0x92 0xc4 0x10 and the 16-byte salt, then its value, the
 * next field right after, the last ending at the end; and
 * ldg_codec_fields_slices_shape (which body.c uses for more than 32
 * fields) gives the same slices.
 *
 * Arbitrary bytes in. See fuzz_entry.c for how this file is also built
 * into the cmocka regression test (tests/ledger/test_fuzz_regress.c).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/record_int.h"

#include "tests/fuzz/fuzz.h"

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int
FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    struct ldg_field_slice sl[8], *all = NULL;
    size_t n = 0, n2 = 0;
    int walk = ldg_codec_fields_walk_shape(data, size, 0, sl, 8, &n);
    int repack = ldg_codec_fields_check_repack(data, size);
    int slices = ldg_codec_fields_slices_shape(data, size, 0, &all, &n2);

    FUZZ_ASSERT(walk == 0 || walk == LDG_ECORRUPT);
    FUZZ_ASSERT(repack == 0 || repack == LDG_ECORRUPT);
    /* the differential: one verdict */
    FUZZ_ASSERT(walk == repack);
    FUZZ_ASSERT(slices == walk);
    if (walk != 0) {
        FUZZ_ASSERT(all == NULL && n2 == 0);
        return 0;
    }
    FUZZ_ASSERT(n <= LDG_FIELDS_MAX && n2 == n);
    {
        const uint8_t *at = NULL;
        for (size_t i = 0; i < n; i++) {
            const struct ldg_field_slice *s = &all[i];
            if (i < 8)
                FUZZ_ASSERT(memcmp(s, &sl[i], sizeof *s) == 0);
            if (i > 0)
                FUZZ_ASSERT(s->name_enc == at);
            FUZZ_ASSERT(s->name_enc > data && s->name_enc_len >= 1);
            FUZZ_ASSERT(s->salt == s->name_enc + s->name_enc_len + 3);
            FUZZ_ASSERT(memcmp(s->salt - 3, "\x92\xc4\x10", 3) == 0);
            FUZZ_ASSERT(s->value_enc == s->salt + 16 && s->value_enc_len >= 1);
            at = s->value_enc + s->value_enc_len;
        }
        FUZZ_ASSERT(at == NULL || at == data + size);
    }
    free(all);
    return 0;
}
