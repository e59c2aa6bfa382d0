/*
 * test_store.c — the LMDB store (ledger/store.c): ldg_access_hint turns
 * the kernel's readahead on the mapped data.mdb on and off again (as
 * /proc/self/smaps shows: VmFlags "sr" sequential, "rr" random).
 */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ledger/ledger.h"
#include "tests/support/support.h"

/* The VmFlags of this process's mapping of dir/data.mdb, or "". */
static void
map_flags(const char *dir, char *out, size_t cap)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[4096], want[600];
    int in = 0;
    out[0] = '\0';
    if (f == NULL)
        return;
    snprintf(want, sizeof want, "%s/data.mdb", dir);
    while (fgets(line, sizeof line, f) != NULL) {
        const char *dash = strchr(line, '-'), *sp = strchr(line, ' ');
        /* a mapping's header: "lo-hi perms offset dev inode path" */
        if (isxdigit((unsigned char)line[0]) && dash != NULL && sp != NULL &&
            dash < sp)
            in = strstr(line, want) != NULL;
        if (in && strncmp(line, "VmFlags:", 8) == 0) {
            size_t n = strnlen(line + 8, cap - 1);
            memcpy(out, line + 8, n);
            out[n] = '\0';
            break;
        }
    }
    fclose(f);
}

static void
test_store__access_hint_turns_readahead_on_and_off(void **state)
{
    char dir[512], flags[512];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    (void)state;
    map_flags(dir, flags, sizeof flags);
    if (flags[0] == '\0') { /* no smaps (not Linux): the hint is a no-op */
        ldg_access_hint(l, LDG_ACCESS_SEQUENTIAL);
        ldg_access_hint(l, LDG_ACCESS_RANDOM);
        ldg_close(l);
        t_rmrf(dir);
        skip();
    }
    assert_non_null(strstr(flags, " rr")); /* opened MDB_NORDAHEAD */
    ldg_access_hint(l, LDG_ACCESS_SEQUENTIAL);
    map_flags(dir, flags, sizeof flags);
    assert_non_null(strstr(flags, " sr"));
    assert_null(strstr(flags, " rr"));
    ldg_access_hint(l, LDG_ACCESS_RANDOM);
    map_flags(dir, flags, sizeof flags);
    assert_non_null(strstr(flags, " rr"));
    ldg_access_hint(NULL, LDG_ACCESS_SEQUENTIAL); /* no-op */
    ldg_close(l);
    t_rmrf(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store__access_hint_turns_readahead_on_and_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
