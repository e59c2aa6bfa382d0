/*
 * test_store.c — the LMDB store (ledger/store.c): ldg_access_hint turns
 * the kernel's readahead on the mapped data.mdb on and off again (as
 * /proc/self/smaps shows: VmFlags "sr" sequential, "rr" random), and
 * drops the process's mapped pages on RELEASE (smaps "Rss"); verify
 * --full's walk of every page (ldg_store_check_pages) names a damaged
 * page header; a writer clears a dead reader's slot as it writes.
 */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cmocka.h>

#include "ledger/handle_int.h"
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

/* The resident kB of this process's mapping of dir/data.mdb, or -1. */
static long
map_rss_kb(const char *dir)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[4096], want[600];
    int in = 0;
    long kb = -1;
    if (f == NULL)
        return -1;
    snprintf(want, sizeof want, "%s/data.mdb", dir);
    while (fgets(line, sizeof line, f) != NULL) {
        const char *dash = strchr(line, '-'), *sp = strchr(line, ' ');
        if (isxdigit((unsigned char)line[0]) && dash != NULL && sp != NULL &&
            dash < sp)
            in = strstr(line, want) != NULL;
        if (in && strncmp(line, "Rss:", 4) == 0) {
            kb = strtol(line + 4, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb;
}

/* RELEASE drops the pages a scan has touched from the process's map; the
 * data reads the same afterwards. */
static void
test_store__access_release_drops_mapped_pages(void **state)
{
    char dir[512];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_txn *t;
    struct ldg_event ev;
    long before, after;
    (void)state;
    t_append_many(l, 2000);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    for (uint64_t seq = 0; seq < 2001; seq++)
        assert_int_equal(ldg_event_get(t, seq, &ev), 0);
    before = map_rss_kb(dir);
    if (before < 0) { /* no smaps: nothing to look at */
        ldg_txn_abort(t);
        ldg_close(l);
        t_rmrf(dir);
        skip();
    }
    assert_true(before > 0);
    ldg_access_hint(l, LDG_ACCESS_RELEASE);
    after = map_rss_kb(dir);
    assert_true(after < before);
    assert_int_equal(after, 0);
    assert_int_equal(ldg_event_get(t, 1234, &ev), 0);
    assert_int_equal(ev.seq, 1234);
    ldg_txn_abort(t);
    ldg_close(l);
    t_rmrf(dir);
}

/* ldg_access_release_part drops one part of the file's pages at a time:
 * part 0 of 2 leaves the upper half mapped, part 1 then the rest; the
 * data reads the same afterwards. */
static void
test_store__release_part_drops_one_part(void **state)
{
    char dir[512];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_txn *t;
    struct ldg_event ev;
    long before, half, after;
    (void)state;
    t_append_many(l, 2000);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    for (uint64_t seq = 0; seq < 2001; seq++)
        assert_int_equal(ldg_event_get(t, seq, &ev), 0);
    before = map_rss_kb(dir);
    if (before < 0) { /* no smaps: nothing to look at */
        ldg_txn_abort(t);
        ldg_close(l);
        t_rmrf(dir);
        skip();
    }
    assert_true(before > 0);
    ldg_access_release_part(l, 2, 2); /* no such part: nothing */
    assert_int_equal(map_rss_kb(dir), before);
    ldg_access_release_part(l, 0, 2);
    half = map_rss_kb(dir);
    assert_true(half > 0 && half < before);
    ldg_access_release_part(l, 1, 2);
    after = map_rss_kb(dir);
    /* at most the meta pages it read to find the file's length (faulted
     * in with their neighbours: 16 pages) */
    assert_true(after < half && after <= 64);
    assert_int_equal(ldg_event_get(t, 1234, &ev), 0);
    assert_int_equal(ev.seq, 1234);
    ldg_access_release_part(NULL, 0, 2); /* no-op */
    ldg_txn_abort(t);
    ldg_close(l);
    t_rmrf(dir);
}

/* LDG_ROOM_TO_REWRITE: the core sizes the map for one transaction that
 * rewrites a store-sized copy (a projections rebuild), from data.mdb's
 * size, within map_max_bytes; a plain open keeps the default. */
static void
test_store__room_to_rewrite_sizes_the_map_from_the_file(void **state)
{
    char dir[512], path[600], err[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_options o;
    struct ldg_stats st;
    struct stat fs;
    uint64_t want, plain;
    (void)state;
    t_append_many(l, 500);
    assert_int_equal(ldg_stats(l, &st), 0);
    plain = st.map_bytes;
    ldg_close(l);
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    assert_int_equal(stat(path, &fs), 0);
    want = (uint64_t)fs.st_size + (uint64_t)fs.st_size / 2 + (256u << 20);
    assert_true(plain < want);

    memset(&o, 0, sizeof o);
    o.flags = LDG_ROOM_TO_REWRITE | LDG_NOSYNC;
    assert_int_equal(ldg_open(&l, dir, &o, err, sizeof err), 0);
    assert_int_equal(ldg_stats(l, &st), 0);
    assert_true(st.map_bytes >= want);
    ldg_close(l);

    /* never past the ceiling the caller set */
    o.map_max_bytes = (size_t)plain;
    assert_int_equal(ldg_open(&l, dir, &o, err, sizeof err), 0);
    assert_int_equal(ldg_stats(l, &st), 0);
    assert_true(st.map_bytes < want);
    ldg_close(l);
    t_rmrf(dir);
}

/* The core's databases are written only by the core: the public writers
 * refuse them (and say which), change nothing, and a module's own
 * database stays writable. */
static void
test_store__core_databases_refuse_outside_writes(void **state)
{
    static const char *const core[] = {"meta",      "entries",     "bodies",
                                       "tree",      "checkpoints", "keys",
                                       "idx.type",  "idx.subject", "idx.run",
                                       "idx.actor", "idx.time"};
    char dir[512];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_txn *t;
    struct ldg_val v;
    ldg_dbi dbi;
    uint8_t k[8] = {0};
    uint64_t size;
    (void)state;
    t_append_many(l, 3);
    assert_int_equal(ldg_size(l, &size), 0);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_WRITE, &t), 0);
    for (size_t i = 0; i < sizeof core / sizeof core[0]; i++) {
        assert_int_equal(ldg_db_open(t, core[i], LDG_DB_CREATE, &dbi),
                         LDG_EINVAL);
        assert_non_null(strstr(ldg_errmsg(l), core[i]));
        /* opening to read is allowed; writing through the dbi is not */
        assert_int_equal(ldg_db_open(t, core[i], 0, &dbi), 0);
        assert_int_equal(ldg_kv_put(t, dbi, k, 8, "x", 1), LDG_EINVAL);
        assert_non_null(strstr(ldg_errmsg(l), core[i]));
        assert_int_equal(ldg_kv_del(t, dbi, k, 8, NULL, 0), LDG_EINVAL);
        assert_int_equal(ldg_db_drop(t, dbi, 0), LDG_EINVAL);
    }
    /* a module's own database */
    assert_int_equal(ldg_db_open(t, "test.mine", LDG_DB_CREATE, &dbi), 0);
    assert_int_equal(ldg_kv_put(t, dbi, k, 8, "x", 1), 0);
    assert_int_equal(ldg_kv_get(t, dbi, k, 8, &v), 0);
    assert_int_equal(ldg_kv_del(t, dbi, k, 8, NULL, 0), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    /* nothing of the log changed */
    {
        uint64_t after;
        struct ldg_verify_report r;
        assert_int_equal(ldg_size(l, &after), 0);
        assert_int_equal(after, size);
        memset(&r, 0, sizeof r);
        assert_int_equal(ldg_verify(l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0,
                                    &r, NULL, NULL),
                         0);
    }
    ldg_close(l);
    t_rmrf(dir);
}

/* A module's store that exists when the ledger is opened is opened by the
 * core then, so two overlapping read transactions that each ask for it
 * get the same handle (LMDB lets only one transaction at a time open a
 * handle that is not yet the environment's; two used to take the same
 * slot and lose a copy of the name, a leak ASan reported in `ledger
 * export`), and both read what it holds. */
static void
test_store__module_stores_open_in_overlapping_readers(void **state)
{
    char dir[512], err[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_txn *t, *a, *b;
    struct ldg_val v;
    ldg_dbi dbi, da, db;
    uint8_t k[8] = {1};
    (void)state;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "test.mine", LDG_DB_CREATE, &dbi), 0);
    assert_int_equal(ldg_kv_put(t, dbi, k, 8, "x", 1), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    ldg_close(l);
    for (int ro = 0; ro <= 1; ro++) {
        struct ldg_options o;
        memset(&o, 0, sizeof o);
        if (ro)
            o.flags |= LDG_RDONLY;
        assert_int_equal(ldg_open(&l, dir, &o, err, sizeof err), 0);
        assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &a), 0);
        assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &b), 0);
        assert_int_equal(ldg_db_open(a, "test.mine", 0, &da), 0);
        assert_int_equal(ldg_db_open(b, "test.mine", 0, &db), 0);
        assert_int_equal(da, db);
        assert_int_equal(ldg_kv_get(a, da, k, 8, &v), 0);
        assert_int_equal(ldg_kv_get(b, db, k, 8, &v), 0);
        assert_memory_equal(v.data, "x", 1);
        ldg_txn_abort(b);
        ldg_txn_abort(a);
        ldg_close(l);
    }
    t_rmrf(dir);
}

/* The names ldg_store_file_name gives are the files LMDB made. */
static void
test_store__file_names_are_the_files_in_the_directory(void **state)
{
    static const enum ldg_store_file files[] = {LDG_FILE_DATA, LDG_FILE_LOCK};
    char dir[512], p[600];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct stat st;
    (void)state;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        const char *name = ldg_store_file_name(files[i]);
        assert_non_null(name);
        assert_null(strchr(name, '/'));
        snprintf(p, sizeof p, "%s/%s", ldg_dir(l), name);
        assert_int_equal(stat(p, &st), 0);
        assert_true(S_ISREG(st.st_mode));
    }
    assert_string_not_equal(ldg_store_file_name(LDG_FILE_DATA),
                            ldg_store_file_name(LDG_FILE_LOCK));
    assert_null(ldg_store_file_name((enum ldg_store_file)99));
    ldg_close(l);
    t_rmrf(dir);
}

/* Rewrites 2 bytes at off of dir/data.mdb (native order, as LMDB). */
static void
poke16(const char *dir, long off, uint16_t v)
{
    char p[600];
    FILE *f;
    snprintf(p, sizeof p, "%s/data.mdb", dir);
    f = fopen(p, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, off, SEEK_SET), 0);
    assert_int_equal(fwrite(&v, 2, 1, f), 1);
    fclose(f);
}

/* The page number of the catalogue's root in the newer meta page, and
 * its flags' file offset (mdb.c's MDB_meta and MDB_page). */
static uint64_t
catalogue_root(const char *dir)
{
    char p[600];
    unsigned char m[2][4096];
    uint64_t txn[2], root[2];
    FILE *f;
    snprintf(p, sizeof p, "%s/data.mdb", dir);
    f = fopen(p, "rb");
    assert_non_null(f);
    assert_int_equal(fread(m, 4096, 2, f), 2);
    fclose(f);
    for (int i = 0; i < 2; i++) {
        memcpy(&txn[i], m[i] + 16 + 128, 8);
        memcpy(&root[i], m[i] + 16 + 24 + 48 + 40, 8);
    }
    return txn[0] > txn[1] ? root[0] : root[1];
}

static int
verify_full(const char *dir, struct ldg_verify_report *r)
{
    struct ldg_ledger *l;
    char err[512];
    struct ldg_options o = {0};
    int rc;
    o.flags = LDG_RDONLY;
    if ((rc = ldg_open(&l, dir, &o, err, sizeof err)) != 0)
        return rc;
    rc = ldg_verify(l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0, r, NULL, NULL);
    ldg_close(l);
    return rc;
}

/* verify --full walks every page as stored: a sound ledger passes; a
 * page whose header names another page, or a leaf flagged overflow too,
 * is a finding that names the database and the page, though every read
 * still gets through. */
static void
test_store__verify_full_walks_every_page(void **state)
{
    char dir[512];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_verify_report r;
    char want[64];
    uint64_t root;
    (void)state;
    t_append_many(l, 300);
    ldg_close(l);
    assert_int_equal(verify_full(dir, &r), 0);
    root = catalogue_root(dir);
    snprintf(want, sizeof want,
             "database '(catalogue)', page %llu: ", (unsigned long long)root);
    /* the page number in its header (mp_pgno's low bytes) */
    poke16(dir, (long)(root * 4096), (uint16_t)(root + 1));
    assert_int_equal(verify_full(dir, &r), LDG_ETAMPER);
    assert_non_null(strstr(r.what, "storage corrupt: "));
    assert_non_null(strstr(r.what, want));
    assert_non_null(strstr(r.what, "its header says page"));
    poke16(dir, (long)(root * 4096), (uint16_t)root);
    assert_int_equal(verify_full(dir, &r), 0);
    /* the flags (mp_flags): a leaf and an overflow page at once */
    poke16(dir, (long)(root * 4096 + 10), 0x06);
    assert_int_equal(verify_full(dir, &r), LDG_ETAMPER);
    assert_non_null(strstr(r.what, want));
    assert_non_null(strstr(r.what, "flags 0x6 where a leaf page belongs"));
    t_rmrf(dir);
}

/* A child that opens dir read-only, begins a read transaction, says so
 * and waits (its pid returned, alive). */
static pid_t
reader_holding(const char *dir)
{
    int fd[2];
    char c;
    pid_t pid;
    assert_int_equal(pipe(fd), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct ldg_ledger *r = NULL;
        struct ldg_txn *t = NULL;
        struct ldg_options o;
        char err[256];
        /* a test that fails before it kills the holder (stopped, maybe)
         * leaves none behind: it dies with the test */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() == 1)
            _exit(1);
        memset(&o, 0, sizeof o);
        o.flags |= LDG_RDONLY | LDG_ANY_LAYOUT; /* (the layout 8 twin's) */
        if (ldg_open(&r, dir, &o, err, sizeof err) != 0 ||
            ldg_txn_begin(r, LDG_TXN_READ, &t) != 0 ||
            write(fd[1], "r", 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    close(fd[1]);
    assert_int_equal(read(fd[0], &c, 1), 1);
    close(fd[0]);
    return pid;
}

/* ... then killed: it dies with its reader slot taken. */
static pid_t
reader_that_dies(const char *dir)
{
    pid_t pid = reader_holding(dir);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return pid;
}

/* A reader stopped inside its read transaction is listed with its pid,
 * its state, the commits made since its snapshot and the pages they
 * freed that no commit could reuse (issue 63): the doctor and metrics
 * name it from this. This call's own transaction is not listed. */
static void
test_store__snapshots_name_a_stopped_holder_and_what_it_holds(void **state)
{
    char dir[512];
    /* (layout 8: an append a commit of data.mdb, each one further from
     * the stopped snapshot) */
    struct ldg_ledger *l = t_ledger_new_layout(dir, sizeof dir, 0, 0, 8);
    struct ldg_snapshot_holder *v = NULL;
    size_t n = 9;
    uint64_t last = 0, file0, file1;
    struct ldg_stats st;
    (void)state;
    t_append_many(l, 50);
    assert_int_equal(ldg_stats_snapshots(l, &v, &n, &last), 0);
    assert_int_equal(n, 0); /* none but this call's own */
    assert_null(v);
    pid_t pid = reader_holding(dir);
    kill(pid, SIGSTOP);
    assert_int_equal(ldg_stats(l, &st), 0);
    file0 = st.file_bytes;
    for (int i = 0; i < 300; i++)
        t_append_many(l, 1);
    assert_int_equal(ldg_stats(l, &st), 0);
    file1 = st.file_bytes;
    assert_int_equal(ldg_stats_snapshots(l, &v, &n, &last), 0);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].pid, pid);
    assert_int_equal(v[0].self, 0);
    assert_true(v[0].behind >= 300);
    assert_int_equal(v[0].txnid + v[0].behind, last);
    assert_true(v[0].held_pages > 0);
    assert_int_equal(v[0].held_bytes % v[0].held_pages, 0);
    /* what it holds is what the file grew by, at most */
    assert_true(v[0].held_bytes <= file1 - file0 + (1u << 20));
#ifdef __linux__
    assert_int_equal(v[0].state, 'T');
    assert_true(v[0].proc_start_ns > 0 &&
                v[0].proc_start_ns <= ldg_now_wall_ns());
#endif
    free(v);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    assert_int_equal(ldg_clear_dead_readers(l), 1);
    assert_int_equal(ldg_stats_snapshots(l, &v, &n, &last), 0);
    assert_int_equal(n, 0);
    ldg_close(l);
    t_rmrf(dir);
}

/* A reader that died holding its transaction pins its snapshot (the file
 * grows with every commit) until its slot is cleared: a writer clears it
 * itself as it writes, at most READER_CHECK_MS (100 ms) after its last
 * sweep, not only at the next open (issue 46; it was once a second:
 * +21 MB over 30,000 events in commits of 5). */
static void
test_store__a_writer_clears_a_dead_reader_as_it_writes(void **state)
{
    char dir[512];
    /* (layout 8: every append is a write of data.mdb; at 9, below) */
    struct ldg_ledger *l = t_ledger_new_layout(dir, sizeof dir, 0, 0, 8);
    (void)state;
    t_append_many(l, 1);
    /* the slot is there to be cleared: one dead reader, one cleared */
    reader_that_dies(dir);
    assert_int_equal(ldg_clear_dead_readers(l), 1);
    assert_int_equal(ldg_clear_dead_readers(l), 0);
    /* writes for 300 ms after a reader died: they cleared it */
    t_append_many(l, 1); /* a write's sweep just now */
    reader_that_dies(dir);
    uint64_t t0 = ldg_now_mono_ms();
    int n = 0;
    while (ldg_now_mono_ms() - t0 < 300) {
        t_append_many(l, 1);
        n++;
    }
    assert_true(n > 1);
    assert_int_equal(ldg_clear_dead_readers(l), 0); /* nothing left */
    ldg_close(l);
    t_rmrf(dir);
}

/* At layout 9 an ack writes the intake log, not data.mdb: the tail's
 * application to data.mdb (every 128 events) is the write that clears a
 * dead reader, before its commit could grow the file. */
static void
test_store__applying_the_tail_clears_a_dead_reader(void **state)
{
    char dir[512];
    struct ldg_ledger *l = t_ledger_new_layout(dir, sizeof dir, 0, 0, 9);
    struct ldg_stats st;
    (void)state;
    t_append_many(l, 1);
    reader_that_dies(dir);
    usleep(150 * 1000); /* past READER_CHECK_MS since the last sweep */
    for (int i = 0; i < 200; i++) /* lone acks: a tail applied on the way */
        t_append_many(l, 1);
    assert_int_equal(ldg_stats(l, &st), 0);
    assert_true(st.intake_events < 200);
    assert_int_equal(ldg_clear_dead_readers(l), 0); /* nothing left */
    ldg_close(l);
    t_rmrf(dir);
}

/* A data.mdb that ends before its last page is cut short, unless the
 * pages past its end are free: LMDB does not write a page allocated and
 * freed again in one transaction (a loose page), so the file may end
 * before a free last page, and such a store opens (seen after kill -9
 * with the intake log, tests/e2e/intake_crash.sh). */
static void
test_store__a_free_last_page_need_not_be_in_the_file(void **state)
{
    char dir[] = "/tmp/ldg-tail-XXXXXX", path[64], err[256];
    struct ldg_store_opts o = {0};
    struct ldg_store *s = NULL;
    struct ldg_txn *t;
    ldg_dbi dbi;
    static uint8_t big[64 << 10];
    struct stat st;
    (void)state;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    o.nosync = 1;
    assert_int_equal(ldg_store_open(&s, dir, &o, err, sizeof err), 0);
    assert_int_equal(ldg_store_txn_begin(s, NULL, 1, &t), 0);
    assert_int_equal(ldg_db_open(t, "t.tail", LDG_DB_CREATE, &dbi), 0);
    assert_int_equal(ldg_kv_put(t, dbi, "a", 1, "x", 1), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    /* a big value on overflow pages at the end of the file, then gone:
     * its pages are free, the last ones of the file */
    assert_int_equal(ldg_store_txn_begin(s, NULL, 1, &t), 0);
    assert_int_equal(ldg_kv_put(t, dbi, "b", 1, big, sizeof big), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    assert_int_equal(ldg_store_txn_begin(s, NULL, 1, &t), 0);
    assert_int_equal(ldg_kv_del(t, dbi, "b", 1, NULL, 0), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    /* the pages that commit wrote at the end are copied again into the
     * freed ones: the file's last page is free */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(ldg_store_txn_begin(s, NULL, 1, &t), 0);
        assert_int_equal(ldg_kv_put(t, dbi, i ? "d" : "c", 1, "y", 1), 0);
        assert_int_equal(ldg_txn_commit(t), 0);
    }
    ldg_store_close(s);
    assert_int_equal(stat(path, &st), 0);
    /* the free tail gone from the file (as LMDB leaves a loose page
     * unwritten): the store opens */
    assert_int_equal(truncate(path, st.st_size - 4096), 0);
    if (ldg_store_open(&s, dir, &o, err, sizeof err) != 0)
        fail_msg("a store whose free tail is not in the file: %s", err);
    ldg_store_close(s);
    /* a page in use cut off: refused */
    assert_int_equal(truncate(path, 3 * 4096), 0);
    assert_int_equal(ldg_store_open(&s, dir, &o, err, sizeof err),
                     LDG_ECORRUPT);
    assert_non_null(strstr(err, "cut short"));
    t_rmrf(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store__access_hint_turns_readahead_on_and_off),
        cmocka_unit_test(test_store__access_release_drops_mapped_pages),
        cmocka_unit_test(test_store__release_part_drops_one_part),
        cmocka_unit_test(
            test_store__room_to_rewrite_sizes_the_map_from_the_file),
        cmocka_unit_test(test_store__core_databases_refuse_outside_writes),
        cmocka_unit_test(test_store__module_stores_open_in_overlapping_readers),
        cmocka_unit_test(test_store__file_names_are_the_files_in_the_directory),
        cmocka_unit_test(test_store__verify_full_walks_every_page),
        cmocka_unit_test(test_store__a_free_last_page_need_not_be_in_the_file),
        cmocka_unit_test(
            test_store__a_writer_clears_a_dead_reader_as_it_writes),
        cmocka_unit_test(test_store__applying_the_tail_clears_a_dead_reader),
        cmocka_unit_test(
            test_store__snapshots_name_a_stopped_holder_and_what_it_holds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
