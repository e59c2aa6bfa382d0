/*
 * json.c — the JSON values every view writes the same way: a 64-bit
 * number (a sequence number, a log size, a time in ns) as a decimal
 * string, so that no reader's 53-bit doubles lose it (docs/OUTPUT.md), and
 * bytes as lowercase hex.
 */
#include <stdio.h>

#include "util/util.h"

json_t *
ldg_json_u64(uint64_t v)
{
    char b[24];
    snprintf(b, sizeof b, "%llu", (unsigned long long)v);
    return json_string(b);
}

json_t *
ldg_json_hex(const uint8_t *p, size_t n)
{
    char b[129];
    if (n > 64)
        return NULL;
    ldg_hex(b, p, n);
    return json_string(b);
}
