/*
 * lmdb_readers.c — test helper for serve_jobs.sh (built by the test with
 * cc and liblmdb): "hold DIR" opens DIR's LMDB environment, begins a read
 * transaction, says "holding" and waits to be killed (a reader that dies
 * with its slot taken); "count DIR" prints how many reader slots are
 * taken (mdb_reader_list), without clearing any; "count DIR PID" how
 * many of them process PID holds; "snapshots DIR [PID]" as count, but
 * only the slots that hold a snapshot (a slot whose transaction was reset,
 * mdb_txn_reset, stays taken but pins nothing: LMDB lists its txnid "-").
 */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long only_pid; /* count only this process's slots (0: all) */
static int only_held; /* count only the slots that hold a snapshot */

static int
count_line(const char *msg, void *ctx)
{
    int *n = ctx;
    /* the header line is "    pid     thread     txnid", then a line a
     * slot, its pid first */
    if (strstr(msg, "pid") == NULL && strstr(msg, "(no active readers)") == NULL &&
        (only_pid == 0 || strtol(msg, NULL, 10) == only_pid)) {
        /* "pid thread txnid": a reset slot's txnid is "-" */
        size_t len = strcspn(msg, "\n");
        while (len > 0 && msg[len - 1] == ' ')
            len--;
        if (!only_held || len == 0 || msg[len - 1] != '-')
            (*n)++;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    MDB_env *env;
    MDB_txn *txn;
    int n = 0;
    if (argc >= 3 && strcmp(argv[1], "snapshots") == 0) {
        only_held = 1;
        argv[1] = "count";
    }
    if (argc == 4 && strcmp(argv[1], "count") == 0)
        only_pid = strtol(argv[3], NULL, 10);
    if ((argc != 3 && !(argc == 4 && only_pid > 0)) || mdb_env_create(&env) != 0 ||
        mdb_env_set_maxdbs(env, 64) != 0 ||
        mdb_env_open(env, argv[2], MDB_RDONLY, 0600) != 0) {
        fprintf(stderr, "usage: lmdb_readers hold DIR | count DIR [PID] | snapshots DIR [PID] "
                        "(or cannot open)\n");
        return 2;
    }
    if (strcmp(argv[1], "count") == 0) {
        mdb_reader_list(env, count_line, &n);
        printf("%d\n", n);
        return 0;
    }
    if (mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0)
        return 1;
    printf("holding\n");
    fflush(stdout);
    for (;;)
        pause();
}
