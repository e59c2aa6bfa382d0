/*
 * ship_rows.c — our side of `ledger ship` alone: how fast the JSONEachRow
 * rows for ClickHouse are built from a ledger (fleet/central.c's row
 * builder, ldg_ship_rows), without any server.
 *
 *   build/bench/ship_rows DIR [OUT]
 *
 * Builds the rows of every event of the ledger in DIR in batches of 20,000
 * (as `ledger ship` does) and prints
 *   "ship_rows EVENTS SECONDS ROWS_PER_SECOND MB_PER_SECOND".
 * With OUT, the rows are also written there (the same bytes `ledger ship`
 * sends), so that bench/fleet.sh can time ClickHouse's side of the insert
 * alone with curl.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fleet/fleet.h"
#include "fleet/fleet_int.h"

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
    struct ldg_options o;
    struct ldg_ledger *l = NULL;
    struct ldg_txn *t = NULL;
    char err[512];
    uint64_t size = 0, bytes = 0;
    FILE *out = NULL;
    double a, b;

    if (argc < 2) {
        fprintf(stderr, "usage: ship_rows DIR [OUT]\n");
        return 64;
    }
    memset(&o, 0, sizeof o);
    if (ldg_open(&l, argv[1], &o, err, sizeof err) < 0) {
        fprintf(stderr, "ship_rows: %s\n", err);
        return 66;
    }
    if (argc > 2 && (out = fopen(argv[2], "w")) == NULL) {
        perror(argv[2]);
        return 73;
    }
    if (ldg_txn_begin(l, LDG_TXN_READ, &t) < 0 || ldg_txn_size(t, &size) < 0)
        return 74;
    ldg_access_hint(l, LDG_ACCESS_SEQUENTIAL);
    a = now();
    for (uint64_t s = 0; s < size; s += 20000) {
        uint64_t e = s + 20000 < size ? s + 20000 : size;
        char *rows = NULL;
        size_t len = 0;
        if (ldg_ship_rows(t, ldg_origin(l), s, e, &rows, &len, err,
                          sizeof err) < 0) {
            fprintf(stderr, "ship_rows: %s\n", err);
            return 74;
        }
        bytes += len;
        if (out != NULL && fwrite(rows, 1, len, out) != len)
            return 74;
        free(rows);
    }
    b = now();
    if (out != NULL && fclose(out) != 0)
        return 74;
    ldg_txn_abort(t);
    ldg_close(l);
    printf("ship_rows %llu %.3f %.0f %.1f\n", (unsigned long long)size, b - a,
           (double)size / (b - a), (double)bytes / 1e6 / (b - a));
    return 0;
}
