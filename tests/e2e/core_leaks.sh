#!/bin/sh
# core_leaks.sh — one owner for the stored bytes (issue 17): no file
# outside ledger/ and util/ names a core database or the store's files,
# uses LMDB or uses msgpack (tests/leaks/check_leaks.py), and the check
# would catch a leak put back:
#
#   1. the tree as it is passes (the script's allow-list aside);
#   2. a copy of the tree with a leak put into doctor/doctor.c fails,
#      naming the file and line — for each kind of leak in turn;
#   3. the same words in a comment, a JSON member name or a message are
#      not a leak.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CHECK="python3 $ROOT/tests/leaks/check_leaks.py"
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/core_leaks.XXXXXX") ||
    exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
fails=0
ok() { printf 'ok   %s\n' "$1"; }
bad() { printf 'FAIL %s\n' "$1"; fails=$((fails + 1)); }

# 1. the tree itself
if $CHECK "$ROOT" > "$T/out" 2>&1; then
    ok "the tree has no new leak ($(tail -n 1 "$T/out"))"
else
    cat "$T/out"
    bad "the tree has leaks outside ledger/"
fi

# a copy of the sources to break
copy() {
    rm -rf "$T/tree"
    mkdir -p "$T/tree"
    (cd "$ROOT" && find . -path ./build -prune -o -path ./.git -prune -o \
        \( -name '*.c' -o -name '*.h' \) -print |
        while read -r f; do
            mkdir -p "$T/tree/$(dirname "$f")"
            cp "$f" "$T/tree/$f"
        done)
}

# 2. each kind of leak, reintroduced into doctor/doctor.c
n=0
while IFS='|' read -r what line; do
    n=$((n + 1))
    copy
    printf '%s\n' "$line" >> "$T/tree/doctor/doctor.c"
    at=$(wc -l < "$T/tree/doctor/doctor.c")
    if $CHECK "$T/tree" > "$T/out" 2>&1; then
        bad "leak $n ($what) not caught"
    elif grep -q "^doctor/doctor.c:$at: " "$T/out"; then
        ok "leak $n ($what) caught at doctor/doctor.c:$at"
    else
        cat "$T/out"
        bad "leak $n ($what) failed the check without naming doctor/doctor.c:$at"
    fi
done <<'LEAKS'
opens entries|static int x_(struct ldg_txn *t, ldg_dbi *d) { return ldg_db_open(t, "entries", 0, d); }
names an index|static const char *x_db = "idx.time";
includes msgpack|#include <msgpack.h>
calls msgpack-c|static void x_(void *u) { msgpack_unpacked_destroy(u); }
uses the core's codec|static int x_(const void *j, void *o, void *n) { return ldg_json_to_msgpack(j, 64, o, n); }
includes ledger_int.h|#include "ledger/ledger_int.h"
opens entries through a variable|static const char *z_ = "entries"; static int x_(struct ldg_txn *t, ldg_dbi *d) { return ldg_db_open(t, z_, 0, d); }
names bodies in a macro|#define X_DB "bodies"
names tree in a table|static const char *const x_[] = {"x", "tree"};
names entries in joined literals|static const char *z_ = "entr" "ies";
names meta in an escape|static const char *z_ = "m\x65ta";
passes checkpoints to a helper|static int x_(void *t) { return y_(t, "checkpoints"); }
includes lmdb.h|#include <lmdb.h>
opens entries with raw LMDB|static int x_(MDB_txn *t, MDB_dbi *d) { return mdb_dbi_open(t, "entries", 0, d); }
calls LMDB|static int x_(void *e) { return mdb_env_sync(e, 1); }
uses an LMDB type|static MDB_env *x_;
names data.mdb|static const char *x_ = "data.mdb";
builds a path to lock.mdb|static void x_(char *p, const char *d) { sprintf(p, "%s/lock.mdb", d); }
LEAKS

# a call spread over lines is caught too
copy
printf 'static int\nx_(struct ldg_txn *t, ldg_dbi *d)\n{\n    return ldg_db_open(t,\n                       "bodies", 0, d);\n}\n' \
    >> "$T/tree/export/common.c"
if $CHECK "$T/tree" > "$T/out" 2>&1; then
    bad "a multi-line ldg_db_open of bodies not caught"
else
    ok "a multi-line ldg_db_open of bodies caught: $(grep '^export/' "$T/out")"
fi

# 3. words in comments are not leaks
copy
printf '/* ldg_db_open(t, "entries", 0, d); #include <msgpack.h> */\n// "idx.run" msgpack_pack_int(x) <lmdb.h> mdb_env_open(e) "data.mdb"\n' \
    >> "$T/tree/doctor/doctor.c"
if $CHECK "$T/tree" > "$T/out" 2>&1; then
    ok "the same words in comments pass"
else
    cat "$T/out"
    bad "a comment was taken for a leak"
fi

# ... nor are a core database's name as a JSON member, LMDB's words in a
# message, or the store's file named in a sentence
copy
printf 'static void *x_(void) { return json_pack("{s:i}", "entries", 1); }\nstatic const char *y_ = "mdb_env_open failed: data.mdb is not readable";\n' \
    >> "$T/tree/doctor/doctor.c"
if $CHECK "$T/tree" > "$T/out" 2>&1; then
    ok "a JSON member \"entries\" and a message about data.mdb pass"
else
    cat "$T/out"
    bad "a JSON member or a message was taken for a leak"
fi

[ "$fails" -eq 0 ] || { echo "core_leaks: $fails failed"; exit 1; }
echo "core_leaks: all passed"
