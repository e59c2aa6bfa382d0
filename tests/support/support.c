/*
 * support.c — helpers shared by the unit tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ledger/layout_int.h"
#include "ledger/handle_int.h"
#include "tests/support/support.h"

/* The database that holds the log's entries or bodies in t's store
 * layout (layout 5 keeps them in entries5 and bodies5); any other name as
 * it is. */
static const char *
layout_db(struct ldg_txn *t, const char *db)
{
    if (strcmp(db, "entries") == 0)
        return ldg_core_db_names[ldg_db_entries(t)];
    if (strcmp(db, "bodies") == 0)
        return ldg_core_db_names[ldg_db_bodies(t)];
    return db;
}

struct ldg_ledger *
t_ledger_new(char *dir, size_t cap, int durable)
{
    return t_ledger_new_format(dir, cap, durable, 0);
}

struct ldg_ledger *
t_ledger_new_format(char *dir, size_t cap, int durable, unsigned format)
{
    return t_ledger_new_layout(dir, cap, durable, format, 0);
}

struct ldg_ledger *
t_ledger_new_layout(char *dir, size_t cap, int durable, unsigned format,
                    unsigned layout)
{
    struct ldg_options o;
    struct ldg_ledger *l = NULL;
    char err[512];
    const char *tmp = getenv("TMPDIR");

    snprintf(dir, cap, "%s/ldgtest.XXXXXX", tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    memset(&o, 0, sizeof o);
    o.flags = durable ? 0 : LDG_NOSYNC;
    if (layout != 0) /* (an earlier build's layout: the core's own tests) */
        o.flags |= LDG_ANY_LAYOUT;
    o.map_size_bytes = 64u << 20;
    o.format = format;
    o.layout = layout;
    if (ldg_init(dir, "test.local/unit", &o, err, sizeof err) != 0)
        fail_msg("init: %s", err);
    o.format = 0;
    o.layout = 0;
    if (ldg_open(&l, dir, &o, err, sizeof err) != 0)
        fail_msg("open: %s", err);
    return l;
}

struct ldg_ledger *
t_ledger_image(char *dir, size_t cap, unsigned layout)
{
    struct ldg_options o;
    struct ldg_ledger *l = NULL;
    char err[512], cmd[2048];
    const char *tmp = getenv("TMPDIR");

    snprintf(dir, cap, "%s/ldgimage.XXXXXX", tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    snprintf(cmd, sizeof cmd,
             "mkdir -m 700 '%s/keys' && cp tests/vectors/layout/keys/log.key "
             "'%s/keys/' && chmod 600 '%s/keys/log.key' && "
             "zstd -q -d -c tests/vectors/layout/layout%u.mdb.zst "
             ">'%s/data.mdb' && chmod 600 '%s/data.mdb'",
             dir, dir, dir, layout, dir, dir);
    if (system(cmd) != 0)
        fail_msg("cannot unpack the layout %u image (needs zstd)", layout);
    memset(&o, 0, sizeof o);
    o.flags = LDG_NOSYNC | LDG_ANY_LAYOUT; /* (migrate's read paths) */
    if (ldg_open(&l, dir, &o, err, sizeof err) != 0)
        fail_msg("open: %s", err);
    return l;
}

void
t_rmrf(const char *dir)
{
    char cmd[4200];
    if (dir == NULL || strncmp(dir, "/tmp/", 5) != 0)
        return; /* never outside /tmp */
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

uint64_t
t_append(struct ldg_ledger *l, const char *type, const char *body,
         const char *actor)
{
    struct ldg_event_in in;
    uint64_t seq = 0;
    json_t *b = json_loads(body, 0, NULL);
    int rc;
    assert_non_null(b);
    memset(&in, 0, sizeof in);
    in.type = type;
    in.body = b;
    in.actor = actor;
    rc = ldg_append(l, &in, &seq);
    if (rc != 0)
        fail_msg("append %s: %s (%s)", type, ldg_strerror(rc), ldg_errmsg(l));
    json_decref(b);
    return seq;
}

void
t_append_many(struct ldg_ledger *l, int n)
{
    struct ldg_writer *w;
    assert_int_equal(ldg_writer_new(&w, l, NULL), 0);
    for (int i = 0; i < n; i++) {
        struct ldg_event_in in;
        json_t *b = json_pack("{s:i}", "i", i);
        memset(&in, 0, sizeof in);
        in.type = "x.test.n";
        in.body = b;
        assert_int_equal(ldg_writer_add(w, &in), 0);
        json_decref(b);
    }
    assert_int_equal(ldg_writer_flush(w), 0);
    ldg_writer_free(w);
}

static void
seq_key(uint8_t k[8], uint64_t seq)
{
    for (int i = 7; i >= 0; i--) {
        k[i] = (uint8_t)seq;
        seq >>= 8;
    }
}

size_t
t_raw_get(struct ldg_ledger *l, const char *db, uint64_t seq, uint8_t *buf,
          size_t cap)
{
    struct ldg_txn *t;
    struct ldg_val v;
    ldg_dbi dbi;
    uint8_t k[8];
    seq_key(k, seq);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    if (strcmp(db, "entries") == 0) {
        /* the whole entry, also of a layout 5 record stored without
         * prev and digest (t_raw_stored_get gives the record itself);
         * put back whole, it is read as such */
        static uint8_t whole[LDG_ENTRY_MAX];
        const uint8_t *e;
        size_t n;
        assert_int_equal(ldg_event_entry(t, seq, whole, sizeof whole, &e, &n),
                         0);
        assert_true(n <= cap);
        memcpy(buf, e, n);
        ldg_txn_abort(t);
        return n;
    }
    assert_int_equal(ldg_db_open(t, layout_db(t, db), 0, &dbi), 0);
    assert_int_equal(ldg_kv_get(t, dbi, k, 8, &v), 0);
    assert_true(v.len <= cap);
    memcpy(buf, v.data, v.len);
    ldg_txn_abort(t);
    return v.len;
}

size_t
t_raw_stored_get(struct ldg_ledger *l, const char *db, uint64_t seq,
                 uint8_t *buf, size_t cap)
{
    struct ldg_txn *t;
    struct ldg_val v;
    ldg_dbi dbi;
    uint8_t k[8];
    seq_key(k, seq);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_db_open(t, layout_db(t, db), 0, &dbi), 0);
    assert_int_equal(ldg_kv_get(t, dbi, k, 8, &v), 0);
    assert_true(v.len <= cap);
    memcpy(buf, v.data, v.len);
    ldg_txn_abort(t);
    return v.len;
}

void
t_raw_put(struct ldg_ledger *l, const char *db, uint64_t seq,
          const uint8_t *buf, size_t n)
{
    struct ldg_txn *t;
    ldg_dbi dbi;
    uint8_t k[8];
    seq_key(k, seq);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, layout_db(t, db), 0, &dbi), 0);
    assert_int_equal(ldg_core_kv_put(t, dbi, k, 8, buf, n), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
}

void
t_raw_del(struct ldg_ledger *l, const char *db, uint64_t seq)
{
    struct ldg_txn *t;
    ldg_dbi dbi;
    uint8_t k[8];
    seq_key(k, seq);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, layout_db(t, db), 0, &dbi), 0);
    assert_int_equal(ldg_core_kv_del(t, dbi, k, 8, NULL, 0), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
}

void
t_forget_verified(struct ldg_ledger *l)
{
    static const char *const keys[] = {"verified", "verify.full",
                                       "verify.finding"};
    struct ldg_txn *t;
    ldg_dbi dbi;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "meta", 0, &dbi), 0);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        int rc = ldg_core_kv_del(t, dbi, keys[i], strlen(keys[i]), NULL, 0);
        assert_true(rc == 0 || rc == LDG_ENOTFOUND);
    }
    assert_int_equal(ldg_txn_commit(t), 0);
}

/* ------------------------------------------------------ test vectors -- */

static struct {
    char path[256];
    char **keys, **vals;
    size_t n;
} tv;

int
t_vectors_load(const char *path)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;

    if (f == NULL)
        return -1;
    snprintf(tv.path, sizeof tv.path, "%s", path);
    while ((len = getline(&line, &cap, f)) >= 0) {
        char *c = strstr(line, ": ");
        if (line[0] == '#' || c == NULL)
            continue;
        *c = '\0';
        c[2 + strcspn(c + 2, "\n")] = '\0';
        tv.keys = realloc(tv.keys, (tv.n + 1) * sizeof *tv.keys);
        tv.vals = realloc(tv.vals, (tv.n + 1) * sizeof *tv.vals);
        if (tv.keys == NULL || tv.vals == NULL)
            abort();
        tv.keys[tv.n] = strdup(line);
        tv.vals[tv.n++] = strdup(c + 2);
    }
    free(line);
    fclose(f);
    return tv.n > 0 ? 0 : -1;
}

const char *
t_vec(const char *key)
{
    for (size_t i = 0; i < tv.n; i++)
        if (strcmp(tv.keys[i], key) == 0)
            return tv.vals[i];
    fail_msg("%s: no '%s'", tv.path, key);
    return NULL;
}

void
t_vectors_free(void)
{
    for (size_t i = 0; i < tv.n; i++) {
        free(tv.keys[i]);
        free(tv.vals[i]);
    }
    free(tv.keys);
    free(tv.vals);
    memset(&tv, 0, sizeof tv);
}

/* The repository's root, for a path relative to it. */
static const char *
t_root(const char *rel)
{
    static char buf[1024];
    const char *env = getenv("LEDGER_SRC_DIR");
    struct stat st;
    char *cut;
    if (env != NULL && *env)
        return env;
    if (stat(rel, &st) == 0)
        return ".";
    snprintf(buf, sizeof buf, "%s", __FILE__);
    cut = strstr(buf, "tests/support/support.c");
    if (cut == NULL || cut == buf)
        return ".";
    cut[-1] = '\0';
    return buf;
}

int
t_corpus_each(const char *rel, void (*fn)(const uint8_t *, size_t),
              char *current, size_t cap)
{
    static uint8_t buf[1 << 20];
    char dir[2048];
    struct dirent **names;
    int n, ran = 0;

    snprintf(dir, sizeof dir, "%.1000s/%.1000s", t_root(rel), rel);
    n = scandir(dir, &names, NULL, alphasort);
    if (n < 0)
        fail_msg("cannot read %s", dir);
    for (int i = 0; i < n; i++) {
        FILE *f;
        snprintf(current, cap, "%s/%s", dir, names[i]->d_name);
        if (names[i]->d_name[0] != '.' && (f = fopen(current, "rb")) != NULL) {
            size_t len = fread(buf, 1, sizeof buf, f);
            fclose(f);
            fn(buf, len);
            ran++;
        }
        free(names[i]);
    }
    free(names);
    return ran;
}
