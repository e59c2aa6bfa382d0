/*
 * version.c — which libraries the core runs with, for `ledger --version`.
 * Each library's version is asked of the one file that uses it.
 */
#include <stdio.h>

#include "ledger/handle_int.h"

void
ldg_lib_versions(char *buf, size_t cap)
{
    snprintf(buf, cap, "%s, %s, %s, %s, jansson %s", ldg_store_lib_version(),
             ldg_crypto_lib_version(), ldg_codec_lib_version(),
             ldg_body_lib_version(), jansson_version_str());
}
