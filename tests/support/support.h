/*
 * support.h — helpers shared by the unit tests (linked into each).
 */
#ifndef LDG_TEST_SUPPORT_H
#define LDG_TEST_SUPPORT_H

#include <stdint.h>

#include "ledger/module.h"
#include "ledger/layout_int.h" /* LDG_ANY_LAYOUT */
#include "util/util.h"

/* Creates a fresh ledger in a new temporary directory (mkdtemp), opens it
 * with NOSYNC unless durable, and returns it. dir receives the path. */
struct ldg_ledger *t_ledger_new(char *dir, size_t cap, int durable);
/* The same with a ledger format (1 or 2; 0: the default). */
struct ldg_ledger *t_ledger_new_format(char *dir, size_t cap, int durable,
                                       unsigned format);
/* The same with a store layout too (0: the default, 9; 8: an earlier
 * build's, made and opened with LDG_ANY_LAYOUT, layout_int.h, for the
 * core's tests of what migrate reads). */
struct ldg_ledger *t_ledger_new_layout(char *dir, size_t cap, int durable,
                                       unsigned format, unsigned layout);
/* Removes a directory tree (rm -rf). */
void t_rmrf(const char *dir);
/* Appends an event from a JSON body text; returns its seq (fails the test
 * on error). actor may be NULL. */
uint64_t t_append(struct ldg_ledger *l, const char *type, const char *body,
                  const char *actor);
/* Appends n simple x.test events with bodies {"i": k}. */
void t_append_many(struct ldg_ledger *l, int n);
/* The golden image of store layout 1 to 7 (tests/vectors/layout/: one
 * 600-event ledger, its README says what it holds) unpacked into a fresh
 * directory and opened with LDG_ANY_LAYOUT (layout_int.h): a ledger of
 * an earlier build's layout, which a 1.0 build opens only to migrate.
 * Needs the zstd program. */
struct ldg_ledger *t_ledger_image(char *dir, size_t cap, unsigned layout);
/* Raw access to a stored record: get a copy of (db, seq key) into buf,
 * put it back. For tampering in tests. An entry comes whole (store
 * layout 5 keeps it without prev and digest: made whole first; written
 * back whole, a layout 5 store reads it as such); t_raw_stored_get gives
 * the record as stored. "entries" and "bodies" name the databases the
 * ledger's layout keeps them in (entries5, bodies5 from layout 5). */
size_t t_raw_get(struct ldg_ledger *l, const char *db, uint64_t seq,
                 uint8_t *buf, size_t cap);
size_t t_raw_stored_get(struct ldg_ledger *l, const char *db, uint64_t seq,
                        uint8_t *buf, size_t cap);
void t_raw_put(struct ldg_ledger *l, const char *db, uint64_t seq,
               const uint8_t *buf, size_t n);
void t_raw_del(struct ldg_ledger *l, const char *db, uint64_t seq);
/* Forgets every verification the ledger recorded (meta "verified",
 * "verify.full", "verify.finding"): a ledger made before init verified
 * its genesis, never verified since. */
void t_forget_verified(struct ldg_ledger *l);
/* A test vectors file (tests/vectors/NAME.txt: "key: value" lines, '#'
 * comments), loaded whole by t_vectors_load (a group setup: 0, or -1
 * when it cannot be read or holds none), its values looked up by t_vec
 * (the test fails naming the key when absent; valid until
 * t_vectors_free, the group teardown). One file at a time. */
int t_vectors_load(const char *path);
const char *t_vec(const char *key);
void t_vectors_free(void);
/* Runs every file of the corpus directory rel (e.g.
 * "tests/fuzz/corpus_suite", from the repository root: the working
 * directory, $LEDGER_SRC_DIR, or where this file was compiled from)
 * through fn, in name order, its path in current (for fn's failure
 * messages) and its first 1 MiB as the input; returns how many ran (fails
 * the test when the directory cannot be read). */
int t_corpus_each(const char *rel, void (*fn)(const uint8_t *, size_t),
                  char *current, size_t cap);

#endif
