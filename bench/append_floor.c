/*
 * append_floor.c — the least a durable append by a new process can cost
 * on this machine: a program that opens an LMDB environment, puts one
 * 1 KiB value under the next key and commits (LMDB's durable commit: the
 * data pages written and fdatasync'd, then the meta page written
 * O_DSYNC), and exits. No signing, no hashing, no JSON, no indexes.
 *
 *   append_floor DIR      DIR is created if missing
 *
 * bench/run.sh times it beside `ledger append` with the same wrapper, so
 * the target "append p50 <= 3 ms" can be read against what process start
 * plus one durable commit cost here (bench/RESULTS.md).
 */
#include <errno.h>
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int
fail(const char *what, int rc)
{
    fprintf(stderr, "append_floor: %s: %s\n", what, mdb_strerror(rc));
    return 74;
}

int
main(int argc, char **argv)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *cur;
    MDB_val k, v;
    unsigned char key[8], val[1024];
    uint64_t next = 0;
    int rc;

    if (argc != 2) {
        fprintf(stderr, "usage: append_floor DIR\n");
        return 64;
    }
    if (mkdir(argv[1], 0700) != 0 && errno != EEXIST) {
        perror(argv[1]);
        return 74;
    }
    if ((rc = mdb_env_create(&env)) != 0)
        return fail("mdb_env_create", rc);
    if ((rc = mdb_env_set_mapsize(env, (size_t)4 << 30)) != 0 ||
        (rc = mdb_env_open(env, argv[1], MDB_NOTLS, 0600)) != 0)
        return fail(argv[1], rc);
    if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0 ||
        (rc = mdb_dbi_open(txn, NULL, 0, &dbi)) != 0 ||
        (rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
        return fail("begin", rc);
    if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0 && k.mv_size == 8)
        for (int i = 0; i < 8; i++)
            next = next << 8 | ((const unsigned char *)k.mv_data)[i];
    mdb_cursor_close(cur);
    next++;
    for (int i = 7; i >= 0; i--, next >>= 8)
        key[i] = (unsigned char)next;
    memset(val, 0x5a, sizeof val);
    k.mv_data = key;
    k.mv_size = sizeof key;
    v.mv_data = val;
    v.mv_size = sizeof val;
    if ((rc = mdb_put(txn, dbi, &k, &v, MDB_APPEND)) != 0)
        return fail("put", rc);
    if ((rc = mdb_txn_commit(txn)) != 0)
        return fail("commit", rc);
    mdb_env_close(env);
    return 0;
}
